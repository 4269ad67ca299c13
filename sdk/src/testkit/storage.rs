//! The storage half of the test host: the app's rows in memory, bounded by
//! the manifest's quota.

use std::collections::BTreeMap;

use tongban_registry::Manifest;

use crate::Error;

pub(crate) struct TestStorage {
    /// The quota in bytes; `None` when the manifest grants no storage.
    quota_bytes: Option<usize>,
    pub(crate) rows: BTreeMap<String, Vec<u8>>,
}

impl TestStorage {
    pub(crate) fn new(manifest: &Manifest) -> TestStorage {
        TestStorage {
            quota_bytes: manifest
                .capabilities
                .storage
                .as_ref()
                .map(|s| s.quota_kib as usize * 1024),
            rows: BTreeMap::new(),
        }
    }

    pub(crate) fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.quota()?;
        Ok(self.rows.get(key).cloned())
    }

    pub(crate) fn set(&mut self, key: &str, value: &[u8]) -> Result<(), Error> {
        let quota = self.quota()?;
        if key.is_empty() || key.len() > 256 {
            return Err(Error::Invalid("storage keys are 1 to 256 bytes".into()));
        }
        let used: usize = self
            .rows
            .iter()
            .filter(|(k, _)| k.as_str() != key)
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if used + key.len() + value.len() > quota {
            return Err(Error::QuotaExceeded(format!("storage quota of {} KiB", quota / 1024)));
        }
        self.rows.insert(key.into(), value.into());
        Ok(())
    }

    pub(crate) fn delete(&mut self, key: &str) -> Result<(), Error> {
        self.quota()?;
        self.rows.remove(key);
        Ok(())
    }

    pub(crate) fn keys(&mut self, prefix: &str) -> Result<Vec<String>, Error> {
        self.quota()?;
        Ok(self
            .rows
            .keys()
            .filter(|k| k.starts_with(prefix))
            .take(1000)
            .cloned()
            .collect())
    }

    fn quota(&self) -> Result<usize, Error> {
        self.quota_bytes.ok_or_else(|| Error::NotGranted("storage".into()))
    }
}
