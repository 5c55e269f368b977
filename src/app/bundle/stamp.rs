//! The stamps the bundle files carry: the tool that wrote them and when.

/// `mirror <version>`, for the files' `tool` field.
pub fn tool() -> String {
    format!("mirror {}", env!("CARGO_PKG_VERSION"))
}

/// Now, as `created` fields write it (RFC 3339, UTC, whole seconds).
pub fn now_utc() -> String {
    crate::model::delta::utc_timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}
