//! Explicit cancellation and progress for long operations. UniFFI does not cancel Rust work when
//! a Kotlin coroutine or a Swift Task is cancelled: the idiomatic layers call
//! [`CancelHandle::cancel`] from their cancellation handlers.

use std::sync::Arc;

use roger_core::onedrive::CancelFlag;
use tokio::sync::watch;

/// Cancels the operation it was given to. Cancelling twice, or after the end, does nothing.
#[derive(uniffi::Object)]
pub struct CancelHandle {
    flag: CancelFlag,
    signal: watch::Sender<bool>,
}

#[uniffi::export]
impl CancelHandle {
    /// A handle that is not cancelled.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            flag: CancelFlag::new(),
            signal: watch::channel(false).0,
        })
    }

    /// Asks the operation to stop: transfers stop at the next fragment and nothing is queued;
    /// waits end at once. The operation then fails with `RogerError.Cancelled`.
    pub fn cancel(&self) {
        self.flag.cancel();
        self.signal.send_replace(true);
    }

    /// Whether [`CancelHandle::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.flag.is_cancelled()
    }
}

impl CancelHandle {
    pub(crate) fn flag(&self) -> &CancelFlag {
        &self.flag
    }

    /// Resolves once cancelled.
    pub(crate) async fn cancelled(&self) {
        let mut rx = self.signal.subscribe();
        // An error means the sender is gone, which cannot happen while `self` lives.
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// Told how far a transfer is. Called from a worker thread, after each fragment.
#[uniffi::export(with_foreign)]
pub trait ProgressListener: Send + Sync {
    /// `done` of `total` bytes are transferred.
    fn on_progress(&self, done: u64, total: u64);
}

/// The host's listener behind the core's progress trait (none: progress is not reported).
pub(crate) struct Progress(pub(crate) Option<Arc<dyn ProgressListener>>);

impl roger_core::onedrive::Progress for Progress {
    fn update(&self, done: u64, total: u64) {
        if let Some(listener) = &self.0 {
            listener.on_progress(done, total);
        }
    }
}
