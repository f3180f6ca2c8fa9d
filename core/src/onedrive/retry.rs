//! Bounded retries for Graph and upload calls: 429/503 honour `Retry-After`, transient failures
//! back off with jitter, and the total wait is capped so the user gets a typed error, not a hang.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use crate::error::Error;
use crate::net::retry_after;

/// How persistent retries are.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Most time spent waiting between attempts, in all.
    pub max_total_wait: Duration,
    /// First backoff for transient errors (doubles each time, with jitter).
    pub base_backoff: Duration,
    /// Largest single backoff without a `Retry-After`.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            max_total_wait: Duration::from_secs(60),
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// The pause before attempt `attempt + 1`: exponential from `base_backoff`, capped at
    /// `max_backoff`, with jitter.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_backoff
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_backoff);
        // Full jitter in [exp/2, exp]: enough to spread clients without a RNG dependency.
        let random = RandomState::new().hash_one(attempt);
        let half = exp / 2;
        half + Duration::from_nanos(random % (half.as_nanos() as u64).max(1))
    }

    /// Runs `send` until it yields a response that is not throttling (429, 503), retrying
    /// transient network errors (and 502/504) only when `idempotent`. Gives up with
    /// [`Error::Throttled`] or the last error once attempts or the total wait run out.
    pub async fn run<F, Fut>(
        &self,
        context: &'static str,
        idempotent: bool,
        mut send: F,
    ) -> Result<reqwest::Response, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<reqwest::Response, Error>>,
    {
        let mut waited = Duration::ZERO;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let last = attempt >= self.max_attempts;
            let outcome = send().await;
            let wait = match &outcome {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let throttled = status == 429 || status == 503;
                    let gateway = idempotent && (status == 502 || status == 504);
                    if !throttled && !gateway {
                        return outcome;
                    }
                    let wait = retry_after(r).unwrap_or_else(|| self.backoff(attempt));
                    if last || waited + wait > self.max_total_wait {
                        return Err(Error::Throttled {
                            context,
                            retry_after_secs: wait.as_secs().max(1),
                        });
                    }
                    wait
                }
                Err(Error::Network { .. }) if idempotent && !last => self.backoff(attempt),
                Err(_) => return outcome,
            };
            if waited + wait > self.max_total_wait {
                return outcome;
            }
            tracing::debug!(
                context,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "retrying"
            );
            tokio::time::sleep(wait).await;
            waited += wait;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

    struct Sequence(Vec<ResponseTemplate>, AtomicUsize);
    impl Respond for Sequence {
        fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
            let i = self.1.fetch_add(1, Ordering::SeqCst);
            self.0[i.min(self.0.len() - 1)].clone()
        }
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            max_total_wait: Duration::from_secs(3),
            base_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
        }
    }

    async fn server(responses: Vec<ResponseTemplate>) -> MockServer {
        let s = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(Sequence(responses, AtomicUsize::new(0)))
            .mount(&s)
            .await;
        s
    }

    async fn get(
        policy: RetryPolicy,
        s: &MockServer,
        calls: Arc<AtomicUsize>,
    ) -> Result<u16, Error> {
        let http = reqwest::Client::new();
        let url = s.uri();
        policy
            .run("test", true, || {
                calls.fetch_add(1, Ordering::SeqCst);
                let req = http.get(&url);
                async move { req.send().await.map_err(Error::network("test")) }
            })
            .await
            .map(|r| r.status().as_u16())
    }

    #[tokio::test]
    async fn throttling_with_retry_after_is_waited_out() {
        let s = server(vec![
            ResponseTemplate::new(429).insert_header("Retry-After", "1"),
            ResponseTemplate::new(503),
            ResponseTemplate::new(200),
        ])
        .await;
        let calls = Arc::new(AtomicUsize::new(0));
        let t = std::time::Instant::now();
        assert_eq!(get(fast(), &s, calls.clone()).await.unwrap(), 200);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(
            t.elapsed() >= Duration::from_secs(1),
            "Retry-After honoured"
        );
    }

    #[tokio::test]
    async fn endless_throttling_ends_in_a_typed_error() {
        let s = server(vec![
            ResponseTemplate::new(429).insert_header("Retry-After", "2")
        ])
        .await;
        let calls = Arc::new(AtomicUsize::new(0));
        let err = get(fast(), &s, calls.clone()).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Throttled {
                    retry_after_secs: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(err.kind(), crate::ErrorKind::Throttled);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "stopped when the wait budget ran out"
        );
    }

    #[tokio::test]
    async fn other_statuses_are_returned_as_they_are() {
        let s = server(vec![ResponseTemplate::new(404)]).await;
        let calls = Arc::new(AtomicUsize::new(0));
        assert_eq!(get(fast(), &s, calls.clone()).await.unwrap(), 404);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn network_errors_are_retried_only_when_safe() {
        // A server that hangs up on every connection: a transport error every time.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                drop(socket);
            }
        });
        let http = reqwest::Client::new();
        for (idempotent, want) in [(true, 4), (false, 1)] {
            let calls = AtomicUsize::new(0);
            let err = fast()
                .run("test", idempotent, || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let req = http.get(&url);
                    async move { req.send().await.map_err(Error::network("test")) }
                })
                .await
                .unwrap_err();
            assert!(matches!(err, Error::Network { .. }));
            assert_eq!(calls.load(Ordering::SeqCst), want);
        }
    }
}
