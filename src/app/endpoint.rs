//! Opening the two sides of a command, and running steps so that an interrupt stops them.
//! Shared by every command (app/commands/*) and by the bundle apply; uses no command.

use std::sync::Arc;

use crate::app::settings::EndpointSettings;
use crate::error::{Error, Result};
use crate::interrupt::CancelToken;
use crate::model::reference::ImageRef;
use crate::transport::layout::Layout;
use crate::transport::registry::{RegistryClient, RegistryRepo};
use crate::transport::Endpoint;

/// Open a storage for one side.
pub async fn open_endpoint(
    s: &EndpointSettings,
    push: bool,
    lock_timeout: std::time::Duration,
) -> Result<Endpoint> {
    match &s.reference {
        ImageRef::Registry(r) => {
            let client = Arc::new(RegistryClient::new(
                r.api_host(),
                s.auth.clone(),
                s.client.clone(),
            )?);
            let repo = RegistryRepo::new(client, &r.repository, push);
            repo.ping().await.map_err(|e| {
                e.context(format!(
                    "connecting to {} for {}",
                    r.registry,
                    if push { "push" } else { "pull" }
                ))
            })?;
            Ok(Endpoint::Registry(repo))
        }
        ImageRef::Layout(l) => Ok(Endpoint::Layout(
            match (l.archive, push) {
                (false, true) => Layout::create(&l.path)?,
                (false, false) => Layout::open(&l.path)?,
                (true, true) => Layout::create_archive(&l.path)?,
                (true, false) => Layout::open_archive(&l.path)?,
            }
            .with_lock_timeout(lock_timeout),
        )),
    }
}

/// Run `f` unless an interrupt arrives first (for steps that leave nothing open to clean up).
pub(crate) async fn interruptible<T>(
    cancel: &CancelToken,
    f: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        r = f => r,
        _ = cancel.cancelled() => Err(Error::Interrupted),
    }
}

/// Run the copy; after an interrupt it stops by itself at its next step (and returns
/// `Interrupted`), and this drops it if a step hangs longer than 3 s.
pub(crate) async fn with_grace<T>(
    cancel: &CancelToken,
    f: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        r = f => r,
        _ = async {
            cancel.cancelled().await;
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        } => Err(Error::Interrupted),
    }
}
