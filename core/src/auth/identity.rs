//! Who a fresh grant belongs to: the provider's account document, read once after sign-in with
//! the new access token and checked as untrusted input before anything is stored.

use serde::Deserialize;
use url::Url;

use super::tokens::Identity;
use crate::config::Config;
use crate::discovery::Region;
use crate::error::Error;
use crate::secret::Secret;

/// Largest account document read (a Graph user is well under 1 KiB).
const MAX_ME_BYTES: usize = 16 * 1024;
/// Longest account id or user name kept, in bytes (an e-mail address is at most 320).
pub(crate) const MAX_IDENTITY_BYTES: usize = 320;

const GRAPH_CTX: &str = "reading the signed-in Microsoft user";

/// An identity from untrusted values: both non-empty, at most [`MAX_IDENTITY_BYTES`] and
/// without control characters, or an [`Error::InvalidResponse`] that names neither value.
fn checked_identity(
    context: &'static str,
    id: String,
    username: String,
) -> Result<Identity, Error> {
    let bounded = |s: &str| {
        !s.is_empty() && s.len() <= MAX_IDENTITY_BYTES && !s.chars().any(char::is_control)
    };
    if !bounded(&id) || !bounded(&username) {
        return Err(Error::invalid(
            context,
            "user id or user name out of bounds",
        ));
    }
    Ok(Identity { id, username })
}

/// The members of a Graph user this core reads; anything else in the body is ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphUser {
    id: Option<String>,
    user_principal_name: Option<String>,
    mail: Option<String>,
}

/// Parses a Graph `user` (`GET /me`): `id` is the account id, `userPrincipalName` the user name,
/// or `mail` when the principal name is absent or empty.
pub(crate) fn parse_graph_user(body: &[u8]) -> Result<Identity, Error> {
    let bad_json = |e: serde_json::Error| Error::invalid(GRAPH_CTX, format!("bad JSON: {e}"));
    // Through a map: serde would also read a struct from a JSON array, which a user is not.
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(body).map_err(bad_json)?;
    let user = GraphUser::deserialize(serde_json::Value::Object(object)).map_err(bad_json)?;
    let present = |s: Option<String>| s.filter(|s| !s.is_empty());
    let username = present(user.user_principal_name)
        .or_else(|| present(user.mail))
        .ok_or_else(|| Error::invalid(GRAPH_CTX, "the user has no principal name or mail"))?;
    let id = present(user.id).ok_or_else(|| Error::invalid(GRAPH_CTX, "the user has no id"))?;
    checked_identity(GRAPH_CTX, id, username)
}

/// `{graph_url}me?$select=id,userPrincipalName,mail`, if the URL policy admits it.
fn graph_me_url(config: &Config) -> Result<Url, Error> {
    let mut url = config
        .graph_url
        .join("me")
        .map_err(|e| Error::invalid(GRAPH_CTX, e.to_string()))?;
    url.set_query(Some("$select=id,userPrincipalName,mail"));
    config
        .url_policy()
        .check(&url)
        .map_err(|reason| Error::RefusedUrl {
            context: "Microsoft Graph",
            reason: reason.into(),
        })?;
    Ok(url)
}

/// GETs an account document with a fresh access token, once and without retries: its body,
/// bounded by [`MAX_ME_BYTES`]. Errors as [`crate::net::check_status`] maps them (a busy
/// service is [`Error::Throttled`]).
async fn read_account_document(
    http: &reqwest::Client,
    url: Url,
    access_token: &Secret,
    context: &'static str,
) -> Result<Vec<u8>, Error> {
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .bearer_auth(access_token.expose())
        .send()
        .await
        .map_err(Error::network(context))?;
    let response = crate::net::check_status(context, response).await?;
    crate::net::read_limited(response, MAX_ME_BYTES, context).await
}

/// Reads the signed-in Microsoft user from Graph (`GET /me`) with a fresh access token.
pub(crate) async fn read_graph_me(
    http: &reqwest::Client,
    config: &Config,
    access_token: &Secret,
) -> Result<Identity, Error> {
    let body = read_account_document(http, graph_me_url(config)?, access_token, GRAPH_CTX).await?;
    parse_graph_user(&body)
}

/// Reads who a fresh Roger grant belongs to (`GET {apiUrl}api/v1/me`).
pub(crate) async fn read_roger_me(
    http: &reqwest::Client,
    region: &Region,
    access_token: &Secret,
) -> Result<Identity, Error> {
    const CTX: &str = "reading the signed-in user";
    #[derive(Deserialize)]
    struct Me {
        id: String,
        email: String,
    }
    let url = region
        .api_url
        .join("api/v1/me")
        .map_err(|e| Error::invalid(CTX, e.to_string()))?;
    let body = read_account_document(http, url, access_token, CTX).await?;
    let me: Me =
        serde_json::from_slice(&body).map_err(|e| Error::invalid(CTX, format!("bad JSON: {e}")))?;
    checked_identity(CTX, me.id, me.email)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn user(body: serde_json::Value) -> Result<Identity, Error> {
        parse_graph_user(body.to_string().as_bytes())
    }

    #[test]
    fn a_graph_user_maps_id_and_principal_name() {
        let identity = user(serde_json::json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,userPrincipalName,mail)/$entity",
            "id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
            "userPrincipalName": "AdeleV@contoso.com",
            "displayName": "Adele Vance",
            "mail": "adele.vance@contoso.com"
        }))
        .unwrap();
        assert_eq!(
            identity,
            Identity {
                id: "87d349ed-44d7-43e1-9a83-5f2406dee5bd".into(),
                username: "AdeleV@contoso.com".into()
            }
        );
    }

    #[test]
    fn mail_stands_in_for_a_missing_principal_name() {
        for upn in [serde_json::Value::Null, "".into()] {
            let identity = user(serde_json::json!({
                "id": "ed0938580c56e5e3",
                "userPrincipalName": upn,
                "mail": "someone@example.com"
            }))
            .unwrap();
            assert_eq!(identity.username, "someone@example.com");
            assert_eq!(identity.id, "ed0938580c56e5e3");
        }
    }

    #[test]
    fn untrusted_values_are_bounded() {
        let long = "a".repeat(MAX_IDENTITY_BYTES + 1);
        for bad in [
            serde_json::json!({"id": "u1"}),
            serde_json::json!({"id": "u1", "userPrincipalName": null, "mail": null}),
            serde_json::json!({"userPrincipalName": "a@b.example"}),
            serde_json::json!({"id": "", "userPrincipalName": "a@b.example"}),
            serde_json::json!({"id": "u1", "userPrincipalName": "a@b.example\u{1b}[2J"}),
            serde_json::json!({"id": "u\n1", "userPrincipalName": "a@b.example"}),
            serde_json::json!({"id": long, "userPrincipalName": "a@b.example"}),
            serde_json::json!({"id": 42, "userPrincipalName": "a@b.example"}),
            serde_json::json!(["not", "an", "object"]),
        ] {
            let err = user(bad.clone()).unwrap_err();
            assert!(
                matches!(err, Error::InvalidResponse { .. }),
                "{bad}: {err:?}"
            );
            // The message never repeats the untrusted value.
            assert!(!err.to_string().contains("\u{1b}"), "{err}");
        }
        assert!(parse_graph_user(b"\xff{").is_err());
        // The longest allowed value is kept.
        let max = "a".repeat(MAX_IDENTITY_BYTES);
        assert_eq!(
            user(serde_json::json!({"id": max, "userPrincipalName": "a@b.example"}))
                .unwrap()
                .id
                .len(),
            MAX_IDENTITY_BYTES
        );
    }

    fn config_for(server: &MockServer) -> Config {
        let mut config = Config::production();
        config.allow_insecure_loopback = true;
        config.graph_url = Url::parse(&format!("{}/v1.0/", server.uri())).unwrap();
        config
    }

    #[tokio::test]
    async fn reads_me_with_the_bearer_token_and_select() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v1.0/me"))
            .and(query_param("$select", "id,userPrincipalName,mail"))
            .and(header("authorization", "Bearer at-canary"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "id": "u1", "userPrincipalName": "alice@contoso.example", "mail": null
            })))
            .mount(&server)
            .await;
        let http = reqwest::Client::new();
        let identity = read_graph_me(&http, &config_for(&server), &Secret::new("at-canary"))
            .await
            .unwrap();
        assert_eq!(identity.id, "u1");
        assert_eq!(identity.username, "alice@contoso.example");
    }

    #[tokio::test]
    async fn graph_errors_and_oversized_bodies_are_typed_errors() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(header("authorization", "Bearer big"))
            .respond_with(ResponseTemplate::new(200).set_body_string(format!(
                r#"{{"id": "u1", "userPrincipalName": "a@b.example", "pad": "{}"}}"#,
                " ".repeat(MAX_ME_BYTES)
            )))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
                "error": {"code": "InvalidAuthenticationToken", "message": "Access token validation failure."}
            })))
            .mount(&server)
            .await;
        let http = reqwest::Client::new();
        let config = config_for(&server);
        let err = read_graph_me(&http, &config, &Secret::new("at-canary"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Http { status: 401, code: Some(c), .. } if c == "InvalidAuthenticationToken"
            ),
            "{err:?}"
        );
        assert_eq!(err.kind(), crate::ErrorKind::SignInRequired);
        assert!(!format!("{err} {err:?}").contains("canary"));
        let err = read_graph_me(&http, &config, &Secret::new("big"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn plain_http_graph_is_refused_without_the_loopback_switch() {
        let server = MockServer::start().await;
        let mut config = config_for(&server);
        config.allow_insecure_loopback = false;
        let err = read_graph_me(&reqwest::Client::new(), &config, &Secret::new("t"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::RefusedUrl { .. }), "{err:?}");
        assert!(server.received_requests().await.unwrap().is_empty());
    }
}
