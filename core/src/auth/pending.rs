//! The sign-in in progress (OAuth `state`, PKCE verifier, scopes, target), kept in the secure
//! store as well as in memory: the OS may kill the app while the system browser is open
//! (Android does under memory pressure), and the redirect must still complete in the new
//! process. The record is short-lived and deleted once the sign-in ends either way.

use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::store::StoreError;

/// The format version this build writes; other versions read as absent (start again).
const VERSION: u32 = 1;

/// How long a started sign-in can still be completed. Authorization codes live minutes; a
/// browser left open longer starts again.
pub(crate) const LIFETIME_SECS: u64 = 15 * 60;

/// Which account the sign-in is for, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub(crate) enum PendingTarget {
    /// Roger, in this region.
    Roger {
        /// The region id.
        region: String,
    },
    /// Microsoft (OneDrive).
    Microsoft,
}

/// A started sign-in as stored. `Debug` never shows the secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingRecord {
    version: u32,
    pub target: PendingTarget,
    pub state: Secret,
    pub verifier: Secret,
    pub scopes: Vec<String>,
    /// When it was started (Unix seconds).
    pub started_at: u64,
}

impl PendingRecord {
    pub fn new(
        target: PendingTarget,
        state: Secret,
        verifier: Secret,
        scopes: Vec<String>,
        started_at: u64,
    ) -> Self {
        Self {
            version: VERSION,
            target,
            state,
            verifier,
            scopes,
            started_at,
        }
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, StoreError> {
        serde_json::to_vec(self).map_err(|e| StoreError::Platform(e.to_string()))
    }

    /// The stored record, if it is one this build reads and it is still usable at `now`. A
    /// record from the future (clock moved back) counts as expired too.
    pub fn from_bytes(bytes: &[u8], now: u64) -> Option<Self> {
        let record: Self = serde_json::from_slice(bytes).ok()?;
        let age = now.checked_sub(record.started_at)?;
        (record.version == VERSION && age <= LIFETIME_SECS).then_some(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(started_at: u64) -> PendingRecord {
        PendingRecord::new(
            PendingTarget::Roger {
                region: "eu".into(),
            },
            Secret::new("state-secret"),
            Secret::new("verifier-secret"),
            vec!["print".into()],
            started_at,
        )
    }

    #[test]
    fn a_record_reads_back_only_while_it_is_fresh() {
        let bytes = record(1_000).to_bytes().unwrap();
        assert_eq!(
            PendingRecord::from_bytes(&bytes, 1_000),
            Some(record(1_000))
        );
        assert!(PendingRecord::from_bytes(&bytes, 1_000 + LIFETIME_SECS).is_some());
        assert!(PendingRecord::from_bytes(&bytes, 1_001 + LIFETIME_SECS).is_none());
        assert!(
            PendingRecord::from_bytes(&bytes, 999).is_none(),
            "from the future"
        );
        assert!(PendingRecord::from_bytes(b"{not json", 1_000).is_none());
        let newer = String::from_utf8(bytes)
            .unwrap()
            .replace("\"version\":1", "\"version\":2");
        assert!(PendingRecord::from_bytes(newer.as_bytes(), 1_000).is_none());
    }

    #[test]
    fn debug_never_shows_the_secrets() {
        let shown = format!("{:?}", record(1));
        assert!(!shown.contains("state-secret") && !shown.contains("verifier-secret"));
    }
}
