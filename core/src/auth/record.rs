//! The versioned account record kept in the secure store.

use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::store::StoreError;

/// The record version this build writes. Older versions are migrated on read.
pub const RECORD_VERSION: u32 = 1;

/// Which identity provider an account belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// A Roger region's authorization server.
    Roger,
    /// The Microsoft identity platform (OneDrive).
    Microsoft,
}

/// Everything needed to resume a session after a restart. `Debug` never shows the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// Record format version.
    pub version: u32,
    /// The identity provider.
    pub provider: Provider,
    /// The user's account id at the provider, when known.
    pub account_id: Option<String>,
    /// The user name (e-mail) to show, when known.
    #[serde(default)]
    pub username: Option<String>,
    /// The Roger region the tokens belong to (Roger accounts).
    pub region: Option<String>,
    /// The issuer that minted the tokens; they are never sent anywhere else.
    pub issuer: String,
    /// The client id the tokens were issued to.
    pub client_id: String,
    /// The current refresh token.
    pub refresh_token: Secret,
    /// When the refresh token's sliding window ends (Unix seconds).
    pub refresh_expires_at: u64,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// When the user signed in (Unix seconds).
    pub signed_in_at: u64,
    /// The origin (`scheme://host[:port]`) the access token may be sent to: the signed-in
    /// region's API, or Graph. Records from before it was kept have none and are not bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The current access token, so that another instance on the same store (an app extension,
    /// a second desktop run) uses it instead of refreshing again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<StoredAccess>,
}

/// An access token as stored with its record. `Debug` never shows the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAccess {
    /// The token.
    pub token: Secret,
    /// When it expires (Unix seconds).
    pub expires_at: u64,
    /// When it is due for a refresh (Unix seconds).
    pub refresh_at: u64,
}

impl AccountRecord {
    /// Serialises for the store.
    pub fn to_bytes(&self) -> Result<Vec<u8>, StoreError> {
        serde_json::to_vec(self).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// Reads a stored record, migrating older versions; refuses records from newer builds.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let v: Version = serde_json::from_slice(bytes)
            .map_err(|_| StoreError::Corrupt("account record without a version".into()))?;
        match v.version {
            RECORD_VERSION => serde_json::from_slice(bytes)
                // serde's message names the field, never the value.
                .map_err(|e| StoreError::Corrupt(format!("account record: {e}"))),
            other => Err(StoreError::Corrupt(format!(
                "account record version {other} is not supported by this build"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AccountRecord {
        AccountRecord {
            version: RECORD_VERSION,
            provider: Provider::Roger,
            account_id: Some("u1".into()),
            username: Some("alice@contoso.example".into()),
            region: Some("eu".into()),
            issuer: "https://eu.roger.myq.cloud".into(),
            client_id: "roger-mobile".into(),
            refresh_token: Secret::new("canary-refresh"),
            refresh_expires_at: 1_800_000_000,
            scopes: vec!["jobs".into()],
            access: None,
            audience: Some("https://eu.roger.myq.cloud".into()),
            signed_in_at: 1_700_000_000,
        }
    }

    #[test]
    fn round_trips_and_hides_the_token_in_debug() {
        let r = record();
        assert_eq!(
            AccountRecord::from_bytes(&r.to_bytes().unwrap()).unwrap(),
            r
        );
        assert!(!format!("{r:?}").contains("canary"));
    }

    #[test]
    fn unknown_versions_and_garbage_are_typed_errors() {
        let mut json: serde_json::Value =
            serde_json::from_slice(&record().to_bytes().unwrap()).unwrap();
        json["version"] = 99.into();
        let err = AccountRecord::from_bytes(json.to_string().as_bytes()).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(m) if m.contains("99")));
        assert!(AccountRecord::from_bytes(b"\xff\x00").is_err());
    }
}
