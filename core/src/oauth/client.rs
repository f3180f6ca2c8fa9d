//! Token requests through the `oauth2` crate: authorization code + PKCE S256, password grant,
//! refresh and revocation, against endpoints taken from the issuer's metadata.

use std::sync::Arc;
use std::time::Duration;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    ResourceOwnerPassword, ResourceOwnerUsername, RevocationUrl, Scope, StandardRevocableToken,
    TokenResponse, TokenUrl,
};
use url::Url;

use super::metadata::AuthServerMetadata;
use super::response::{salvage_refresh_token, TokenBody};
use super::transport::{TokenHttp, Transport};
use crate::error::{Error, OAuthError};
use crate::secret::Secret;

type Response = TokenBody;
type Client = oauth2::Client<
    BasicErrorResponse,
    Response,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointMaybeSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointSet,
>;

/// Tokens from a successful grant. Secrets are redacted in `Debug`.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    /// The access token.
    pub access_token: Secret,
    /// Its lifetime, if the server said.
    pub expires_in: Option<Duration>,
    /// A new refresh token, if the server issued one (rotation).
    pub refresh_token: Option<Secret>,
    /// The refresh token's lifetime, if the server said.
    pub refresh_expires_in: Option<Duration>,
    /// Granted scopes, if the server said (otherwise those requested).
    pub scopes: Option<Vec<String>>,
}

/// A refresh that failed. When the server answered 200 with something unusable that still
/// carried a new refresh token, `rotated` holds it: the server may already have spent the old
/// one, so the caller keeps this one before reporting the error.
#[derive(Debug)]
pub struct RefreshFailure {
    /// What went wrong.
    pub error: Error,
    /// A refresh token salvaged from an unusable 200 answer.
    pub rotated: Option<Secret>,
}

impl From<Error> for RefreshFailure {
    fn from(error: Error) -> Self {
        Self {
            error,
            rotated: None,
        }
    }
}

/// What must be remembered between sending the user to the browser and the redirect back.
#[derive(Debug)]
pub struct PendingAuthorization {
    /// The URL to open in the system browser.
    pub url: Url,
    /// The `state` value (CSRF protection).
    pub state: Secret,
    /// The PKCE code verifier.
    pub verifier: Secret,
}

/// An OAuth public client bound to one issuer's endpoints.
#[derive(Clone)]
pub struct OAuthClient {
    http: reqwest::Client,
    metadata: Arc<AuthServerMetadata>,
    client: Client,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("issuer", &self.metadata.issuer)
            .finish_non_exhaustive()
    }
}

fn map_error(
    context: &'static str,
    e: RequestTokenError<Transport, impl oauth2::ErrorResponse + 'static>,
) -> Error {
    match e {
        RequestTokenError::ServerResponse(resp) => {
            // The response is serialisable to JSON; read its standard fields from there.
            let json = serde_json::to_value(&resp).unwrap_or_default();
            let field = |name: &str| json.get(name).and_then(|v| v.as_str()).map(str::to_owned);
            Error::OAuth {
                context,
                source: OAuthError {
                    code: field("error").unwrap_or_else(|| "unknown".into()),
                    description: field("error_description"),
                },
            }
        }
        RequestTokenError::Request(Transport::Network(source)) => Error::network(context)(source),
        RequestTokenError::Request(Transport::Status(status)) => Error::Http {
            context,
            status,
            code: None,
        },
        RequestTokenError::Request(Transport::Unreadable(why)) => Error::invalid(context, why),
        // Never include the body: it may hold tokens.
        RequestTokenError::Parse(e, _body) => Error::invalid(
            context,
            format!("unparsable token response at {}", e.path()),
        ),
        RequestTokenError::Other(msg) => Error::invalid(context, msg),
    }
}

/// Shortest access-token lifetime taken from a server: `expires_in: 0` would otherwise mean a
/// refresh on every call.
pub const MIN_ACCESS_LIFETIME: Duration = Duration::from_secs(30);
/// Longest access-token lifetime believed (a day); longer values are clamped.
pub const MAX_ACCESS_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Longest refresh-token lifetime believed (two years).
pub const MAX_REFRESH_LIFETIME: Duration = Duration::from_secs(2 * 366 * 24 * 3600);

fn grant(response: Response, requested: &[String]) -> TokenGrant {
    TokenGrant {
        access_token: Secret::new(response.access_token().secret().clone()),
        expires_in: response
            .expires_in()
            .map(|d| d.clamp(MIN_ACCESS_LIFETIME, MAX_ACCESS_LIFETIME)),
        refresh_token: response
            .refresh_token()
            .map(|t| Secret::new(t.secret().clone())),
        refresh_expires_in: response
            .refresh_token_expires_in
            .map(|secs| Duration::from_secs(secs).min(MAX_REFRESH_LIFETIME)),
        scopes: Some(
            response
                .scopes()
                .map(|s| s.iter().map(|s| s.to_string()).collect())
                .unwrap_or_else(|| requested.to_vec()),
        ),
    }
}

impl OAuthClient {
    /// A public client (`client_id` in the request body, no secret) for the issuer described by
    /// `metadata`, using the core's HTTP client (which never follows redirects).
    pub fn new(
        http: reqwest::Client,
        metadata: Arc<AuthServerMetadata>,
        client_id: &str,
        redirect_uri: &Url,
    ) -> Result<Self, Error> {
        let bad =
            |e: url::ParseError| Error::invalid("configuring the OAuth client", e.to_string());
        let client = oauth2::Client::new(ClientId::new(client_id.to_owned()))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(TokenUrl::from_url(metadata.token_endpoint.clone()))
            .set_auth_uri_option(
                metadata
                    .authorization_endpoint
                    .clone()
                    .map(AuthUrl::from_url),
            )
            .set_revocation_url_option(
                metadata
                    .revocation_endpoint
                    .clone()
                    .map(RevocationUrl::from_url),
            )
            .set_redirect_uri(RedirectUrl::new(redirect_uri.to_string()).map_err(bad)?);
        Ok(Self {
            http,
            metadata,
            client,
        })
    }

    /// The issuer's metadata.
    pub fn metadata(&self) -> &AuthServerMetadata {
        &self.metadata
    }

    /// Builds the authorization URL with a fresh `state` and a PKCE S256 challenge.
    pub fn authorize(&self, scopes: &[String]) -> Result<PendingAuthorization, Error> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .map_err(|_| {
                Error::invalid(
                    "starting sign-in",
                    "the issuer has no authorization endpoint",
                )
            })?
            .add_scopes(scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        Ok(PendingAuthorization {
            url,
            state: Secret::new(state.secret().clone()),
            verifier: Secret::new(verifier.secret().clone()),
        })
    }

    /// Exchanges an authorization code (with its PKCE verifier).
    pub async fn exchange_code(
        &self,
        code: &str,
        verifier: &Secret,
        scopes: &[String],
    ) -> Result<TokenGrant, Error> {
        const CTX: &str = "exchanging the authorization code";
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().to_owned()))
            .request_async(&TokenHttp(&self.http))
            .await
            .map_err(|e| map_error(CTX, e))?;
        Ok(grant(response, scopes))
    }

    /// The resource-owner password grant (legacy; only for tenants that allow it).
    pub async fn password(
        &self,
        username: &str,
        password: &Secret,
        scopes: &[String],
    ) -> Result<TokenGrant, Error> {
        const CTX: &str = "signing in with a password";
        let username = ResourceOwnerUsername::new(username.to_owned());
        let password = ResourceOwnerPassword::new(password.expose().to_owned());
        let response = self
            .client
            .exchange_password(&username, &password)
            .add_scopes(scopes.iter().cloned().map(Scope::new))
            .request_async(&TokenHttp(&self.http))
            .await
            .map_err(|e| map_error(CTX, e))?;
        Ok(grant(response, scopes))
    }

    /// Redeems a refresh token.
    pub async fn refresh(
        &self,
        refresh_token: &Secret,
        scopes: &[String],
    ) -> Result<TokenGrant, RefreshFailure> {
        const CTX: &str = "refreshing the session";
        let token = RefreshToken::new(refresh_token.expose().to_owned());
        let response = self
            .client
            .exchange_refresh_token(&token)
            .request_async(&TokenHttp(&self.http))
            .await
            .map_err(|e| {
                let rotated = match &e {
                    RequestTokenError::Parse(_, body) => salvage_refresh_token(body),
                    _ => None,
                };
                RefreshFailure {
                    error: map_error(CTX, e),
                    rotated,
                }
            })?;
        Ok(grant(response, scopes))
    }

    /// Revokes a refresh token (RFC 7009). Does nothing when the issuer has no revocation
    /// endpoint. Sent directly rather than through `oauth2`, which refuses non-HTTPS revocation
    /// endpoints and so could not reach the loopback reference cloud in tests.
    pub async fn revoke(&self, refresh_token: &Secret) -> Result<(), Error> {
        const CTX: &str = "revoking the session";
        let Some(endpoint) = self.metadata.revocation_endpoint.clone() else {
            return Ok(());
        };
        let response = self
            .http
            .post(endpoint)
            .form(&[
                ("token", refresh_token.expose()),
                ("token_type_hint", "refresh_token"),
                ("client_id", self.client.client_id().as_str()),
            ])
            .send()
            .await
            .map_err(Error::network(CTX))?;
        match response.status().as_u16() {
            200 => Ok(()),
            status => Err(Error::Http {
                context: CTX,
                status,
                code: None,
            }),
        }
    }
}
