//! Pairing the phone with a printer (OAuth 2.0 device authorization grant, RFC 8628).
//!
//! [`payload`] validates what the camera (or the user's keyboard) hands us before anything is sent.

pub mod payload;
mod trust;

pub use payload::{
    parse_manual_entry, parse_pairing_payload, MalformedReason, PairingPayload, PairingPolicy,
    PayloadError, Scheme, TrustedOrigin, UserCode,
};
pub use trust::policy_from_regions;
