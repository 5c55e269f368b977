//! Calendar dates from seconds since the Unix epoch, for the timestamps files carry and the
//! dates messages print (no time-zone database: UTC only).

/// A moment in UTC, split the way formatters need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// The year (proleptic Gregorian).
    pub year: u64,
    /// 1-12.
    pub month: u64,
    /// 1-31.
    pub day: u64,
    /// 0 = Sunday.
    pub weekday: usize,
    /// Seconds into the day.
    pub seconds: u64,
}

/// The civil date of `secs` since the epoch: Howard Hinnant's `civil_from_days`; any `u64` fits.
pub fn civil(secs: u64) -> Civil {
    let days = secs / 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    Civil {
        year: yoe + era * 400 + u64::from(month <= 2),
        month,
        day,
        // 1970-01-01 was a Thursday.
        weekday: ((days + 4) % 7) as usize,
        seconds: secs % 86_400,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(
            civil(0),
            Civil {
                year: 1970,
                month: 1,
                day: 1,
                weekday: 4,
                seconds: 0
            }
        );
        // 2000-02-29 (a leap day of a century year), 12:34:56, a Tuesday.
        let c = civil(951_827_696);
        assert_eq!((c.year, c.month, c.day, c.weekday), (2000, 2, 29, 2));
        assert_eq!(c.seconds, 12 * 3600 + 34 * 60 + 56);
        // 2050-01-01 00:00:00, a Saturday.
        let c = civil(2_524_608_000);
        assert_eq!((c.year, c.month, c.day, c.weekday), (2050, 1, 1, 6));
    }
}
