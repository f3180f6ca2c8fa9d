//! What the emulated identity platform keeps: authorization codes and tokens, only as hashes,
//! plus the delegated Graph permissions it knows.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use crate::clock::SimTime;
use crate::secret::{new_id, new_token, SecretHash};

/// Expired codes are kept this long so that a late redemption says "expired", not "unknown".
const EXPIRED_CODE_GRACE: Duration = Duration::from_secs(3600);
/// Expired or revoked tokens are kept this long for precise error messages.
const EXPIRED_TOKEN_GRACE: Duration = Duration::from_secs(24 * 3600);

/// Graph resource prefix that scopes may carry.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com/";

/// A delegated permission the Roger app may ask for (least privilege: nothing else).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `Files.ReadWrite`: the signed-in user's own files.
    FilesReadWrite,
    /// `User.Read`: the signed-in user's profile.
    UserRead,
    /// `offline_access`: a refresh token.
    OfflineAccess,
}

impl Scope {
    /// Parses one scope: short or resource-prefixed Graph names, case-insensitive like Microsoft.
    pub fn parse(text: &str) -> Option<Self> {
        let short = match text.get(..GRAPH_RESOURCE.len()) {
            Some(prefix) if prefix.eq_ignore_ascii_case(GRAPH_RESOURCE) => {
                &text[GRAPH_RESOURCE.len()..]
            }
            _ => text,
        };
        let graph_prefixed = short.len() != text.len();
        if short.eq_ignore_ascii_case("Files.ReadWrite") {
            Some(Scope::FilesReadWrite)
        } else if short.eq_ignore_ascii_case("User.Read") {
            Some(Scope::UserRead)
        } else if short.eq_ignore_ascii_case("offline_access") && !graph_prefixed {
            Some(Scope::OfflineAccess)
        } else {
            None
        }
    }

    /// The name Microsoft returns in `scope`.
    pub fn name(self) -> &'static str {
        match self {
            Scope::FilesReadWrite => "Files.ReadWrite",
            Scope::UserRead => "User.Read",
            Scope::OfflineAccess => "offline_access",
        }
    }
}

/// Parses a space-separated `scope`: `Err` names the first scope that is not allowed (or says
/// the list is empty or has no Graph permission).
pub fn parse_scopes(text: &str) -> Result<BTreeSet<Scope>, String> {
    let mut scopes = BTreeSet::new();
    for item in text.split(' ').filter(|s| !s.is_empty()) {
        match Scope::parse(item) {
            Some(scope) => {
                scopes.insert(scope);
            }
            None if item.len() <= 128 => return Err(format!("The scope {item} is not valid.")),
            None => return Err("A requested scope is not valid.".into()),
        }
    }
    if !scopes
        .iter()
        .any(|s| matches!(s, Scope::FilesReadWrite | Scope::UserRead))
    {
        return Err("The scope must name at least one Microsoft Graph permission.".into());
    }
    Ok(scopes)
}

/// The `scope` of a token response: the Graph permissions, space-separated.
pub fn scope_string(scopes: &BTreeSet<Scope>) -> String {
    scopes
        .iter()
        .filter(|s| **s != Scope::OfflineAccess)
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(" ")
}

/// An authorization code, keyed by its hash.
#[derive(Clone, Debug)]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub user_id: String,
    pub scopes: BTreeSet<Scope>,
    pub expires_at: SimTime,
    /// Set when redeemed: the family a replay revokes.
    pub redeemed_family: Option<String>,
}

/// Access or refresh token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

/// An issued token, keyed by its hash.
#[derive(Clone, Debug)]
pub struct TokenRecord {
    pub kind: TokenKind,
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scopes: BTreeSet<Scope>,
    pub expires_at: SimTime,
    /// Fault-injection generation it was minted in (see `Faults::expire_tokens_now`).
    pub generation: u64,
    /// A refresh token already exchanged.
    pub rotated: bool,
    /// Revoked (reuse detected, a replayed code, or an administrator).
    pub revoked: bool,
}

/// Why an access token is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessProblem {
    Unknown,
    Expired,
    Revoked,
}

/// Codes and tokens.
#[derive(Debug, Default)]
pub struct AuthStore {
    pub codes: HashMap<SecretHash, AuthCode>,
    pub tokens: HashMap<SecretHash, TokenRecord>,
}

/// A freshly minted token response's secrets.
#[derive(Debug)]
pub struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: u64,
    pub scopes: BTreeSet<Scope>,
    pub family_id: String,
}

/// Lifetimes and generation for [`AuthStore::issue`].
#[derive(Clone, Copy, Debug)]
pub struct IssueParams {
    pub now: SimTime,
    pub access_secs: u64,
    pub refresh_secs: u64,
    pub generation: u64,
}

impl AuthStore {
    /// Forgets what is long expired.
    pub fn sweep(&mut self, now: SimTime) {
        self.codes
            .retain(|_, c| now <= c.expires_at.plus(EXPIRED_CODE_GRACE));
        self.tokens
            .retain(|_, t| now <= t.expires_at.plus(EXPIRED_TOKEN_GRACE));
    }

    /// Mints an access token, and a refresh token when `offline_access` was granted.
    pub fn issue(
        &mut self,
        family: Option<String>,
        client_id: &str,
        user_id: &str,
        scopes: BTreeSet<Scope>,
        params: IssueParams,
    ) -> Issued {
        let family_id = family.unwrap_or_else(|| new_id("msfam"));
        let record = |kind, secs| TokenRecord {
            kind,
            family_id: family_id.clone(),
            client_id: client_id.to_string(),
            user_id: user_id.to_string(),
            scopes: scopes.clone(),
            expires_at: params.now.plus(Duration::from_secs(secs)),
            generation: params.generation,
            rotated: false,
            revoked: false,
        };
        let access_token = new_token();
        self.tokens.insert(
            SecretHash::of(&access_token),
            record(TokenKind::Access, params.access_secs),
        );
        let refresh_token = scopes.contains(&Scope::OfflineAccess).then(|| {
            let token = new_token();
            self.tokens.insert(
                SecretHash::of(&token),
                record(TokenKind::Refresh, params.refresh_secs),
            );
            token
        });
        Issued {
            access_token,
            refresh_token,
            expires_in: params.access_secs,
            scopes,
            family_id,
        }
    }

    /// Revokes every token of a family.
    pub fn revoke_family(&mut self, family_id: &str) {
        for token in self.tokens.values_mut() {
            if token.family_id == family_id {
                token.revoked = true;
            }
        }
    }

    /// Revokes every token of a user (an administrator's "revoke sessions").
    pub fn revoke_user(&mut self, user_id: &str) -> usize {
        let mut n = 0;
        for token in self.tokens.values_mut() {
            if token.user_id == user_id && !token.revoked {
                token.revoked = true;
                n += 1;
            }
        }
        n
    }

    /// The record of a live access token.
    pub fn access(
        &self,
        token: &str,
        now: SimTime,
        generation: u64,
    ) -> Result<&TokenRecord, AccessProblem> {
        let record = self
            .tokens
            .get(&SecretHash::of(token))
            .filter(|t| t.kind == TokenKind::Access)
            .ok_or(AccessProblem::Unknown)?;
        if record.revoked {
            Err(AccessProblem::Revoked)
        } else if record.expires_at <= now || record.generation < generation {
            Err(AccessProblem::Expired)
        } else {
            Ok(record)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_accept_short_and_prefixed_names_only() {
        let scopes =
            parse_scopes("files.readwrite https://graph.microsoft.com/User.Read  offline_access")
                .unwrap();
        assert_eq!(scopes.len(), 3);
        assert_eq!(scope_string(&scopes), "Files.ReadWrite User.Read");
        assert!(parse_scopes("Files.ReadWrite.All").is_err());
        assert!(parse_scopes("openid Files.ReadWrite").is_err());
        assert!(parse_scopes("https://graph.microsoft.com/.default").is_err());
        assert!(parse_scopes("https://graph.microsoft.com/offline_access").is_err());
        assert!(
            parse_scopes("offline_access").is_err(),
            "no Graph permission"
        );
        assert!(parse_scopes("").is_err());
    }
}
