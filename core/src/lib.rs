//! `roger-core`: all behaviour of the Roger cloud-print phone app.
//!
//! The core decodes the printer's QR code, pairs the phone with the printer (OAuth 2.0 device
//! authorization grant), signs the user in to Roger and to Microsoft (OneDrive), keeps their tokens
//! in a secure store, and drives print and scan through the Roger API and Microsoft Graph. It is
//! plain async Rust; the `roger-ffi` crate exposes it to Kotlin and Swift.

/// The version of this crate, as built.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod pairing;
pub mod qr;

pub mod auth;
pub mod clock;
pub mod config;
pub mod discovery;
pub mod error;
pub mod net;
pub mod oauth;
pub mod onedrive;
pub mod printer;
pub mod secret;
pub mod store;

pub use config::Config;

/// Whether this build has the `test-util` feature (the switch that lets Graph calls reach a
/// plain-HTTP loopback emulator). Cargo unifies features across a workspace, so a crate that
/// ships the core checks this to refuse a build that picked it up from a test crate.
pub const TEST_UTIL: bool = cfg!(feature = "test-util");
pub use error::{Error, ErrorKind};
pub mod accounts;
