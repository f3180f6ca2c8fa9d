//! Bearer-token authentication of `/api/v1` calls (RFC 6750, header only).

use std::collections::BTreeSet;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::region::Shared;
use crate::secret::SecretHash;
use crate::store::{Store, Subject, TokenKind};

/// Who is calling: a user (phone app, CLI) or a printer acting in a user's session.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: String,
    pub tenant_id: String,
    pub scopes: BTreeSet<String>,
    /// Set for printer-session tokens.
    pub printer: Option<PrinterCaller>,
}

/// The printer side of a printer-session token.
#[derive(Clone, Debug)]
pub struct PrinterCaller {
    pub session_id: String,
}

impl Caller {
    /// A user token with `scope`.
    pub fn require_user_scope(&self, scope: &str) -> Result<(), ApiError> {
        if self.printer.is_none() && self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(ApiError::insufficient_scope(scope))
        }
    }

    /// A printer-session token with `scope`.
    pub fn require_printer_scope(&self, scope: &str) -> Result<&PrinterCaller, ApiError> {
        match &self.printer {
            Some(printer) if self.scopes.contains(scope) => Ok(printer),
            _ => Err(ApiError::insufficient_scope(scope)),
        }
    }

    /// A user token with `user_scope` or a printer-session token with `printer_scope`.
    pub fn require_either(&self, user_scope: &str, printer_scope: &str) -> Result<(), ApiError> {
        match self.printer {
            None => self.require_user_scope(user_scope),
            Some(_) => self.require_printer_scope(printer_scope).map(|_| ()),
        }
    }

    /// Resolves an access token, checking expiry and, for printer tokens, the live session.
    fn resolve(store: &Store, token: &str, now: crate::clock::SimTime) -> Option<Caller> {
        let record = store.tokens.get(&SecretHash::of(token))?;
        if record.kind != TokenKind::Access || record.expires_at <= now {
            return None;
        }
        let user = store.users.get(record.subject.user_id())?;
        let printer = match &record.subject {
            Subject::User { .. } => None,
            Subject::PrinterSession {
                printer_id,
                session_id,
                ..
            } => {
                let session = store.sessions.get(session_id)?;
                if &session.printer_id != printer_id {
                    return None;
                }
                Some(PrinterCaller {
                    session_id: session_id.clone(),
                })
            }
        };
        Some(Caller {
            user_id: user.id.clone(),
            tenant_id: user.tenant_id.clone(),
            scopes: record.scopes.clone(),
            printer,
        })
    }
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let in_query = parts.uri.query().is_some_and(|q| {
            url::form_urlencoded::parse(q.as_bytes()).any(|(name, _)| name == "access_token")
        });
        if in_query {
            return Err(ApiError::invalid(
                "bearer tokens are not accepted in the query string; use the Authorization header",
            ));
        }
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::invalid_token(false, "missing bearer token"));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty() && t.len() <= 512)
            .ok_or_else(|| ApiError::invalid_token(true, "malformed Authorization header"))?;
        let store = state.lock();
        Self::resolve(&store, token, state.now()).ok_or_else(|| {
            ApiError::invalid_token(true, "the access token is expired, revoked or unknown")
        })
    }
}
