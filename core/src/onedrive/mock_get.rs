//! Test helper: answering GETs on a wiremock server, as the OneDrive tests stage them.

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Answers `GET at` with `answer`, the first `times` requests only when given (later mounts
/// then answer the rest).
pub(crate) async fn serve_get(
    server: &MockServer,
    at: &str,
    answer: ResponseTemplate,
    times: Option<u64>,
) {
    let mock = Mock::given(method("GET"))
        .and(path(at))
        .respond_with(answer);
    match times {
        Some(n) => mock.up_to_n_times(n).mount(server).await,
        None => mock.mount(server).await,
    }
}
