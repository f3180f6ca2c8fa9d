//! `POST /oauth/revoke` (RFC 7009).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{authenticate_client, no_store};
use crate::error::OAuthError;
use crate::extract::OAuthForm;
use crate::region::Shared;
use crate::secret::SecretHash;
use crate::stats::Counter;
use crate::store::TokenKind;

/// Revokes a token of the calling client: a refresh token takes its whole family with it, an
/// access token only itself. Unknown tokens and other clients' tokens still get 200 (RFC 7009 §2.2).
pub async fn revoke(
    State(state): State<Shared>,
    headers: HeaderMap,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    state.stats.count(Counter::Revocation);
    let mut store = state.lock();
    let client = authenticate_client(&headers, &form, &store, &state.config)?;
    let hash = SecretHash::of(form.require("token")?);
    let client_id = client.id(&state.config);
    if let Some(record) = store.tokens.get(&hash).filter(|t| t.client_id == client_id) {
        match record.kind {
            TokenKind::Refresh => {
                let family = record.family_id.clone();
                store.revoke_family(&family);
            }
            TokenKind::Access => {
                store.tokens.remove(&hash);
            }
        }
        tracing::info!(token = %hash.short(), "token revoked");
    }
    Ok(no_store(StatusCode::OK))
}
