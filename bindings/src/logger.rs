//! The core's log lines, forwarded to the host's logger (Logcat, os_log). The core never logs
//! secrets (tokens, codes, pre-authenticated URLs), so nothing is filtered here.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock, RwLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, uniffi::Enum)]
pub enum LogLevel {
    /// Very detailed (every request).
    Trace,
    /// Detailed.
    Debug,
    /// Noteworthy events.
    Info,
    /// Something went wrong but was handled.
    Warn,
    /// Something failed.
    Error,
}

/// Receives the core's log lines. Called from the core's worker threads; keep it quick.
#[uniffi::export(with_foreign)]
pub trait Logger: Send + Sync {
    /// One line: its level, the module it comes from (e.g. `roger_core::printer::events`) and
    /// the message with its fields (`message key=value ...`).
    fn log(&self, level: LogLevel, target: String, message: String);
}

struct Installed {
    logger: RwLock<Option<(Arc<dyn Logger>, LogLevel)>>,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// Sends the core's log lines at `level` and above to `logger`, replacing any logger set before.
/// The first call installs the forwarding as the process's tracing subscriber; if the host
/// process already has another one, lines go there instead and this returns `false`.
#[uniffi::export]
pub fn set_logger(logger: Arc<dyn Logger>, level: LogLevel) -> bool {
    let mut fresh = false;
    let installed = INSTALLED.get_or_init(|| {
        fresh = true;
        Installed {
            logger: RwLock::new(None),
        }
    });
    if let Ok(mut slot) = installed.logger.write() {
        *slot = Some((logger, level));
    }
    if fresh {
        let subscriber = tracing_subscriber::registry().with(Forward);
        tracing::subscriber::set_global_default(subscriber).is_ok()
    } else {
        true
    }
}

fn level_of(level: &Level) -> LogLevel {
    match *level {
        Level::TRACE => LogLevel::Trace,
        Level::DEBUG => LogLevel::Debug,
        Level::INFO => LogLevel::Info,
        Level::WARN => LogLevel::Warn,
        _ => LogLevel::Error,
    }
}

struct Forward;

impl<S: Subscriber> Layer<S> for Forward {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        current().is_some_and(|(_, min)| level_of(metadata.level()) >= min)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let Some((logger, min)) = current() else {
            return;
        };
        let level = level_of(event.metadata().level());
        if level < min {
            return;
        }
        let mut line = Line::default();
        event.record(&mut line);
        logger.log(level, event.metadata().target().to_owned(), line.0);
    }
}

fn current() -> Option<(Arc<dyn Logger>, LogLevel)> {
    INSTALLED.get()?.logger.read().ok()?.clone()
}

#[derive(Default)]
struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            // The message comes first, whatever the order fields are recorded in.
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Collect(Mutex<Vec<(LogLevel, String, String)>>);

    impl Logger for Collect {
        fn log(&self, level: LogLevel, target: String, message: String) {
            self.0.lock().unwrap().push((level, target, message));
        }
    }

    #[test]
    fn lines_at_or_above_the_level_reach_the_host() {
        let sink = Arc::new(Collect(Mutex::new(Vec::new())));
        set_logger(sink.clone(), LogLevel::Info);
        tracing::debug!("hidden");
        tracing::info!(job = "job_1", "released");
        tracing::warn!(attempt = 2, "retrying");
        let got = sink.0.lock().unwrap().clone();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, LogLevel::Info);
        assert_eq!(got[0].2, "released job=job_1");
        assert_eq!(got[1].2, "retrying attempt=2");
        assert!(got[0].1.starts_with("roger_ffi"));
    }
}
