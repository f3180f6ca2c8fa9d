//! `roger-ffi`: the UniFFI face of `roger-core` for Kotlin and Swift.
//!
//! This crate only converts: core types to records and enums the foreign languages understand,
//! the core's detailed errors to one actionable [`RogerError`], the host's secure store, logger
//! and listeners to the core's traits. Behaviour (protocol, retries, parsing) lives in the core.
//!
//! Threading: every async export runs on the library's own tokio runtime, so the foreign side
//! may await it from any thread or executor. A foreign coroutine or task that is cancelled
//! stops waiting, but the Rust work runs to its end: long operations take a [`CancelHandle`]
//! for that. QR decoding is a sync export: call it from a background thread.
// Every exported item's doc comment becomes the Kotlin and Swift doc comment.
#![warn(missing_docs)]

uniffi::setup_scaffolding!();

// A shipped library must not carry the core's test endpoint switch unless it asked for it (the
// JVM tests and benchmarks do, with this crate's `test-util`). `cargo build --workspace` unifies
// the test crates' features into roger-core and would otherwise ship it silently. Shipped means a
// release build, or any build with ROGER_SHIPPED_BUILD set (how the test command checks this).
#[cfg(not(feature = "test-util"))]
const _: () = assert!(
    !roger_core::TEST_UTIL
        || (cfg!(debug_assertions) && option_env!("ROGER_SHIPPED_BUILD").is_none()),
    "roger-core was built with `test-util` (Cargo feature unification, e.g. from \
     `cargo build --workspace --release`): build the shipped library alone, \
     `cargo build -p roger-ffi --release`"
);

mod accounts;
mod cancel;
mod config;
mod error;
mod logger;
mod model;
mod onedrive;
mod platform_tls;
mod printer;
mod runtime;
mod scanner;
mod store;

use std::sync::Arc;

pub use accounts::AccountsApi;
pub use cancel::{CancelHandle, ProgressListener};
pub use config::{production_config, RogerConfig};
pub use error::RogerError;
pub use logger::{set_logger, LogLevel, Logger};
pub use model::*;
pub use onedrive::OneDriveApi;
pub use printer::{EventListener, EventSubscription, PairingPreview, PrinterApi, ReleaseIntent};
pub use scanner::{PairingCode, QrScanner, ScanResult};
pub use store::{SecureStore, StoreFailure};

/// The version of the core this library was built from.
#[uniffi::export]
pub fn core_version() -> String {
    roger_core::VERSION.to_owned()
}

/// The entry object: one per app, built from the configuration and the host's secure store.
#[derive(uniffi::Object)]
pub struct RogerCore {
    accounts: Arc<AccountsApi>,
    printer: Arc<PrinterApi>,
    onedrive: Arc<OneDriveApi>,
}

#[uniffi::export]
impl RogerCore {
    /// Opens the core: checks the configuration, loads the stored accounts and prepares the
    /// services. Nothing is sent over the network yet.
    #[uniffi::constructor]
    pub fn new(config: RogerConfig, store: Arc<dyn SecureStore>) -> Result<Arc<Self>, RogerError> {
        let _guard = runtime::enter()?;
        let data_dir = std::path::PathBuf::from(&config.app_data_dir);
        let core_config = config.into_core()?;
        let accounts = Arc::new(roger_core::accounts::Accounts::open(
            core_config,
            Arc::new(store::ForeignStore(store)),
            roger_core::accounts::OpenOptions {
                data_dir: Some(&data_dir),
                clock: None,
            },
        )?);
        let drive = Arc::new(
            roger_core::onedrive::OneDrive::new(accounts.config(), accounts.microsoft().clone())
                .map_err(RogerError::from)?,
        );
        let service = roger_core::printer::PrintService::new(
            accounts.clone(),
            drive.clone(),
            roger_core::printer::PrintServiceOptions {
                data_dir: Some(data_dir),
                ..Default::default()
            },
        )
        .map_err(RogerError::from)?;
        Ok(Arc::new(Self {
            accounts: Arc::new(AccountsApi::new(accounts.clone())),
            printer: Arc::new(PrinterApi::new(accounts, Arc::new(service))),
            onedrive: Arc::new(OneDriveApi::new(drive)),
        }))
    }

    /// Sign-in, sign-out and the accounts' states.
    pub fn accounts(&self) -> Arc<AccountsApi> {
        self.accounts.clone()
    }

    /// The printer session: pairing, jobs, printing, scanning, events.
    pub fn printer(&self) -> Arc<PrinterApi> {
        self.printer.clone()
    }

    /// The "Print" and "Scan" folders in OneDrive.
    pub fn onedrive(&self) -> Arc<OneDriveApi> {
        self.onedrive.clone()
    }
}

/// Panics on purpose, for tests of the FFI edge: the host must get an error, not a crash.
#[cfg(feature = "ffi-test-hooks")]
#[uniffi::export]
pub fn test_panic_sync(message: String) -> Result<(), RogerError> {
    runtime::guard_sync(move || -> Result<(), RogerError> { panic!("{message}") })
}

/// Panics on purpose inside an async export, for tests of the FFI edge.
#[cfg(feature = "ffi-test-hooks")]
#[uniffi::export]
pub async fn test_panic_async(message: String) -> Result<(), RogerError> {
    runtime::run(async move {
        if !message.is_empty() {
            panic!("{message}");
        }
        Ok(())
    })
    .await
}

/// An async export that waits `millis` and returns `value`: for overhead benchmarks and
/// cancellation tests of the FFI edge. With 0 it does not touch the timer (whose granularity
/// is a millisecond), so it measures only the round trip through the runtime and the FFI.
#[cfg(feature = "ffi-test-hooks")]
#[uniffi::export]
pub async fn test_echo_async(value: u64, millis: u64) -> Result<u64, RogerError> {
    runtime::run(async move {
        if millis > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
        }
        Ok(value)
    })
    .await
}

/// A sync export that returns `value`: for overhead benchmarks of the FFI edge.
#[cfg(feature = "ffi-test-hooks")]
#[uniffi::export]
pub fn test_echo_sync(value: u64) -> u64 {
    value
}
