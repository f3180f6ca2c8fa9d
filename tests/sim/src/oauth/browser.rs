//! What the browser sees at an authorization endpoint (ours and the Microsoft emulator's): a
//! redirect back to the client, or a page, never cached.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use url::Url;

/// How an authorization request ends; `F` is the request the login form carries over.
#[derive(Debug)]
pub enum Outcome<F> {
    /// Back to the client: with a code, or with an error.
    Redirect(Url),
    /// A page in the browser: the login form (again), or an error that cannot be redirected.
    Page {
        status: StatusCode,
        message: String,
        form: Option<Box<F>>,
    },
}

/// A login page that can show a message and, when the request is valid, the form.
pub trait LoginPage {
    /// The page's HTML.
    fn render(message: &str, form: Option<&Self>) -> String;
}

impl<F: LoginPage> IntoResponse for Outcome<F> {
    fn into_response(self) -> Response {
        let mut response = match self {
            Outcome::Redirect(url) => {
                let mut response = StatusCode::FOUND.into_response();
                if let Ok(location) = HeaderValue::from_str(url.as_str()) {
                    response.headers_mut().insert(header::LOCATION, location);
                }
                response
            }
            Outcome::Page {
                status,
                message,
                form,
            } => (status, Html(F::render(&message, form.as_deref()))).into_response(),
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// A page with a message and no form.
pub(crate) fn page<F>(status: StatusCode, message: impl Into<String>) -> Outcome<F> {
    Outcome::Page {
        status,
        message: message.into(),
        form: None,
    }
}
