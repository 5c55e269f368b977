//! An in-memory [`Storage`] that logs every request, for the target-state tests.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use futures_util::StreamExt;

use crate::error::{Error, Result};
use crate::model::digest::Digest;
use crate::model::manifest::{Descriptor, RawManifest};
use crate::transport::{BlobBody, Pushed, Storage};

/// An in-memory storage that logs every request as `(method, reference)`.
#[derive(Default)]
pub(super) struct Fake {
    manifests: Mutex<HashMap<Digest, RawManifest>>,
    tags: Mutex<HashMap<String, Digest>>,
    blobs: Mutex<HashMap<Digest, Bytes>>,
    log: Mutex<Vec<(&'static str, String)>>,
}

impl Fake {
    fn note(&self, method: &'static str, what: &str) {
        self.log.lock().unwrap().push((method, what.to_string()));
    }
    pub(super) fn requests(&self) -> Vec<(&'static str, String)> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
    pub(super) fn delete(&self, d: &Digest) {
        self.manifests.lock().unwrap().remove(d);
    }
    fn missing(&self, what: &str) -> Error {
        Error::Missing {
            what: what.to_string(),
            place: "fake".into(),
            sparse: false,
        }
    }
    fn lookup(&self, reference: &str) -> Option<Digest> {
        match reference.parse::<Digest>() {
            Ok(d) => self.manifests.lock().unwrap().contains_key(&d).then_some(d),
            Err(_) => self.tags.lock().unwrap().get(reference).cloned(),
        }
    }
}

impl Storage for Fake {
    fn describe(&self) -> String {
        "fake".into()
    }
    async fn fetch_manifest(&self, reference: &str, _hint: Option<&str>) -> Result<RawManifest> {
        self.note("GET", reference);
        let d = self
            .lookup(reference)
            .ok_or_else(|| self.missing(reference))?;
        Ok(self.manifests.lock().unwrap()[&d].clone())
    }
    async fn resolve(&self, reference: &str) -> Result<Option<Digest>> {
        self.note("HEAD", reference);
        Ok(self.lookup(reference))
    }
    async fn has_manifest(&self, d: &Descriptor) -> Result<bool> {
        self.note("HEAD", d.digest.as_str());
        Ok(self.manifests.lock().unwrap().contains_key(&d.digest))
    }
    async fn has_blob(&self, d: &Descriptor) -> Result<bool> {
        self.note("HEAD blob", d.digest.as_str());
        Ok(self.blobs.lock().unwrap().contains_key(&d.digest))
    }
    async fn fetch_blob(&self, d: &Descriptor) -> Result<BlobBody> {
        self.note("GET blob", d.digest.as_str());
        let b = self
            .blobs
            .lock()
            .unwrap()
            .get(&d.digest)
            .cloned()
            .ok_or_else(|| self.missing(d.digest.as_str()))?;
        Ok(BlobBody {
            size: b.len() as u64,
            stream: futures_util::stream::iter(vec![Ok(b)]).boxed(),
        })
    }
    async fn push_blob(&self, d: &Descriptor, body: BlobBody) -> Result<()> {
        self.note("PUT blob", d.digest.as_str());
        let mut buf = vec![];
        let mut s = body.stream;
        while let Some(c) = s.next().await {
            buf.extend_from_slice(&c?);
        }
        self.blobs
            .lock()
            .unwrap()
            .insert(d.digest.clone(), Bytes::from(buf));
        Ok(())
    }
    async fn push_manifest(&self, m: &RawManifest, tag: Option<&str>) -> Result<Pushed> {
        self.note("PUT", tag.unwrap_or(m.digest.as_str()));
        self.manifests
            .lock()
            .unwrap()
            .insert(m.digest.clone(), m.clone());
        if let Some(t) = tag {
            self.tags
                .lock()
                .unwrap()
                .insert(t.to_string(), m.digest.clone());
        }
        Ok(Pushed::Written)
    }
    fn is_registry(&self) -> bool {
        false
    }
    async fn list_tags(&self) -> Result<Vec<String>> {
        Ok(self.tags.lock().unwrap().keys().cloned().collect())
    }
    async fn finish(&self) -> Result<()> {
        Ok(())
    }
}
