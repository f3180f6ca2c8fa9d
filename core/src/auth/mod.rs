//! Accounts: sign-in to Roger and to Microsoft, the token lifecycle, and what is persisted.

mod identity;
pub(crate) mod pending;
mod record;
mod redirect;
mod refresh_lock;
mod tokens;

pub(crate) use identity::{read_graph_me, read_roger_me};
pub use record::{AccountRecord, Provider, StoredAccess, RECORD_VERSION};
pub use redirect::{check_redirect, issuer_matches, AuthorizationResponse, ExpectedRedirect};
pub use tokens::{AuthState, Identity, Revocation, TokenManager, TokenManagerDeps};
