//! Sign-in from the desktop: authorization code + PKCE in the system browser, the redirect
//! received on a loopback listener (RFC 8252 §7.3: `http://127.0.0.1:<ephemeral port>/callback`),
//! or the legacy password grant with the password read without echo.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use url::Url;

use roger_core::auth::AuthState;
use roger_core::error::{Error, SignInError};
use roger_core::secret::Secret;

use crate::context::Context;
use crate::failure::{Exit, Failure};

/// How long the browser step may take.
const BROWSER_WAIT: Duration = Duration::from_secs(300);
/// The path the redirect comes back to.
const CALLBACK_PATH: &str = "/callback";

/// Which account a browser sign-in is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Roger, in a region.
    Roger,
    /// Microsoft (OneDrive).
    Microsoft,
}

/// A redirect that reached the listener, and where to send the page the browser shows.
struct Arrival {
    uri: String,
    page: oneshot::Sender<(StatusCode, String)>,
}

async fn callback(
    State(tx): State<mpsc::Sender<Arrival>>,
    OriginalUri(uri): OriginalUri,
) -> (StatusCode, Html<String>) {
    let (page, answer) = oneshot::channel();
    let sent = tx
        .send(Arrival {
            uri: uri.to_string(),
            page,
        })
        .await;
    let (status, text) = match sent {
        Ok(()) => answer.await.unwrap_or((
            StatusCode::SERVICE_UNAVAILABLE,
            "roger stopped waiting.".to_owned(),
        )),
        Err(_) => (StatusCode::GONE, "roger stopped waiting.".to_owned()),
    };
    (status, Html(browser_page(&text)))
}

fn browser_page(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Roger</title></head>\
         <body><h1>Roger</h1><p>{escaped}</p></body></html>"
    )
}

/// The loopback listener a browser sign-in gets its redirect on, bound before the sign-in starts
/// so that its port is in the redirect URI.
pub struct Loopback {
    listener: TcpListener,
    port: u16,
    /// `http://127.0.0.1:<port>/callback`.
    pub redirect: Url,
}

impl Loopback {
    /// Binds an ephemeral port on 127.0.0.1.
    pub async fn bind() -> Result<Self, Failure> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| {
            Failure::new(
                Exit::Failure,
                format!(
                    "Cannot listen on 127.0.0.1 for the sign-in redirect ({e}); check the firewall."
                ),
            )
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| Failure::new(Exit::Failure, format!("No loopback port ({e}).")))?
            .port();
        let redirect = Url::parse(&format!("http://127.0.0.1:{port}{CALLBACK_PATH}"))
            .map_err(|e| Failure::new(Exit::Failure, format!("Internal error: {e}.")))?;
        Ok(Self {
            listener,
            port,
            redirect,
        })
    }
}

/// Signs in in the browser: opens (or prints) the authorization URL and completes the sign-in
/// with the redirect that comes back to `loopback`. `ctx` must have been opened with
/// `loopback.redirect`.
pub async fn browser_sign_in(
    ctx: &Context,
    loopback: Loopback,
    target: Target,
    region: Option<&str>,
    no_browser: bool,
) -> Result<AuthState, Failure> {
    let Loopback { listener, port, .. } = loopback;
    let authorize = match target {
        Target::Roger => ctx.accounts.begin_sign_in(region).await?,
        Target::Microsoft => ctx.accounts.begin_microsoft_sign_in().await?,
    };

    let (tx, mut rx) = mpsc::channel::<Arrival>(4);
    let app = axum::Router::new()
        .route(CALLBACK_PATH, get(callback))
        .with_state(tx);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });

    let opened = !no_browser && webbrowser::open(authorize.as_str()).is_ok();
    if opened {
        eprintln!("Opened the browser to sign in. If nothing appeared, open this address:");
    } else {
        eprintln!("Open this address in a browser to sign in:");
    }
    eprintln!("{authorize}");
    eprintln!(
        "Waiting for the browser (up to {} min)…",
        BROWSER_WAIT.as_secs() / 60
    );

    let outcome = tokio::time::timeout(BROWSER_WAIT, async {
        loop {
            let Some(arrival) = rx.recv().await else {
                return Err(Failure::new(
                    Exit::Failure,
                    "The sign-in listener stopped; run the command again.",
                ));
            };
            let full = format!("http://127.0.0.1:{port}{}", arrival.uri);
            match ctx.accounts.complete_sign_in(&full).await {
                Ok(state) => {
                    let _ = arrival.page.send((
                        StatusCode::OK,
                        "Signed in. You can close this tab and go back to the terminal.".into(),
                    ));
                    return Ok(state);
                }
                // Not this sign-in's answer (an old tab, a stray request): keep waiting.
                Err(Error::SignIn(SignInError::StateMismatch | SignInError::RedirectMismatch)) => {
                    let _ = arrival.page.send((
                        StatusCode::BAD_REQUEST,
                        "This answer does not belong to the sign-in roger is waiting for.".into(),
                    ));
                }
                Err(e) => {
                    let failure = Failure::from(e);
                    let _ = arrival
                        .page
                        .send((StatusCode::BAD_REQUEST, failure.message.clone()));
                    return Err(failure);
                }
            }
        }
    })
    .await;
    let _ = stop.send(());
    let _ = server.await;
    let state = outcome.map_err(|_| {
        Failure::new(
            Exit::SignIn,
            "The browser did not come back in time; run `roger login` again.",
        )
    })??;
    Ok(state)
}

/// Signs in with the legacy password grant.
pub async fn password_sign_in(
    ctx: &Context,
    region: Option<&str>,
    username: Option<&str>,
) -> Result<AuthState, Failure> {
    let stdin = std::io::stdin();
    let username = match username {
        Some(u) => u.to_owned(),
        None => {
            if stdin.is_terminal() {
                eprint!("User name: ");
                let _ = std::io::stderr().flush();
            }
            read_line(&mut stdin.lock())?
        }
    };
    if username.is_empty() {
        return Err(Failure::new(
            Exit::Usage,
            "Give a user name with --username.",
        ));
    }
    let password = if stdin.is_terminal() {
        rpassword::prompt_password(format!("Password for {username}: "))
            .map_err(|e| Failure::new(Exit::Usage, format!("Cannot read the password ({e}).")))?
    } else {
        read_line(&mut stdin.lock())?
    };
    if password.is_empty() {
        return Err(Failure::new(
            Exit::Usage,
            "No password was given: type it at the prompt or pipe it on stdin.",
        ));
    }
    let state = ctx
        .accounts
        .sign_in_with_password(region, &username, Secret::new(password))
        .await
        .map_err(|e| match e {
            Error::OAuth { ref source, .. } if source.code == "invalid_grant" => Failure::new(
                Exit::SignIn,
                "The user name or password is wrong; try again.",
            ),
            Error::OAuth { ref source, .. }
                if source.code == "unauthorized_client"
                    || source.code == "unsupported_grant_type" =>
            {
                Failure::new(
                    Exit::SignIn,
                    "Password sign-in is not allowed here: run `roger login` without --password.",
                )
            }
            other => Failure::from(other),
        })?;
    Ok(state)
}

/// One line without its line ending.
fn read_line(input: &mut impl BufRead) -> Result<String, Failure> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| Failure::new(Exit::Usage, format!("Cannot read stdin ({e}).")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_page_escapes_text() {
        let page = browser_page("<script>&");
        assert!(page.contains("&lt;script&gt;&amp;"));
        assert!(!page.contains("<script>"));
    }

    #[test]
    fn read_line_drops_the_line_ending_only() {
        let mut input = std::io::Cursor::new(b" pass word \r\nnext".to_vec());
        assert_eq!(read_line(&mut input).unwrap(), " pass word ");
    }
}
