//! The library's tokio runtime, and the guards that keep panics on the Rust side.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use crate::error::RogerError;

static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();

fn runtime() -> Result<&'static tokio::runtime::Runtime, RogerError> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("roger-core")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| RogerError::Internal {
            detail: format!("cannot start the core's runtime: {e}"),
        })
}

/// Makes the runtime current for a sync call that creates tasks or clients.
pub(crate) fn enter() -> Result<tokio::runtime::EnterGuard<'static>, RogerError> {
    Ok(runtime()?.enter())
}

/// Runs `work` on the runtime and waits for it. The work is a task of its own: when the foreign
/// caller stops waiting, the work still completes (state changes are never cut half-way), and
/// a panic in it becomes [`RogerError::Internal`].
pub(crate) async fn run<T, F>(work: F) -> Result<T, RogerError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, RogerError>> + Send + 'static,
{
    match runtime()?.spawn(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => Err(RogerError::Internal {
            detail: format!(
                "the core failed unexpectedly: {}",
                panic_text(e.into_panic())
            ),
        }),
        Err(_) => Err(RogerError::Cancelled),
    }
}

/// Runs sync work, turning a panic into [`RogerError::Internal`].
pub(crate) fn guard_sync<T>(work: impl FnOnce() -> Result<T, RogerError>) -> Result<T, RogerError> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(result) => result,
        Err(payload) => Err(RogerError::Internal {
            detail: format!("the core failed unexpectedly: {}", panic_text(payload)),
        }),
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_sync_work_is_an_error() {
        let got: Result<(), _> = guard_sync(|| panic!("boom"));
        assert!(matches!(got, Err(RogerError::Internal { detail }) if detail.contains("boom")));
    }

    #[test]
    fn a_panic_in_async_work_is_an_error() {
        let got: Result<(), _> = futures_lite_block_on(run(async { panic!("bang") }));
        assert!(matches!(got, Err(RogerError::Internal { detail }) if detail.contains("bang")));
    }

    #[test]
    fn work_completes_after_the_caller_stops_waiting() {
        let (tx, rx) = std::sync::mpsc::channel();
        let fut = run(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let _ = tx.send(());
            Ok(())
        });
        // Poll once so the task is spawned, then drop the caller's future.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut fut = Box::pin(fut);
        let _ = fut.as_mut().poll(&mut cx);
        drop(fut);
        assert!(rx.recv_timeout(std::time::Duration::from_secs(5)).is_ok());
    }

    fn futures_lite_block_on<F: Future>(f: F) -> F::Output {
        // A runtime of the test's own, as a foreign executor would be.
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }
}
