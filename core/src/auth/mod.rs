//! Accounts: sign-in to Roger and to Microsoft, the token lifecycle, and what is persisted.

mod record;
mod redirect;
mod tokens;

pub use record::{AccountRecord, Provider, RECORD_VERSION};
pub use redirect::{check_redirect, issuer_matches, AuthorizationResponse, ExpectedRedirect};
pub use tokens::{AuthState, Identity, TokenManager, TokenManagerDeps};
