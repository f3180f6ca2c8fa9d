//! Request counters a test can read (e.g. "the core refreshed exactly once").

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one region's authorization server.
#[derive(Debug, Default)]
pub struct Stats {
    authorization_code: AtomicU64,
    refresh_token: AtomicU64,
    password: AtomicU64,
    device_code: AtomicU64,
    device_authorization: AtomicU64,
    logins: AtomicU64,
    revocations: AtomicU64,
}

/// Which counter to bump.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Counter {
    AuthorizationCode,
    RefreshToken,
    Password,
    DeviceCode,
    DeviceAuthorization,
    Login,
    Revocation,
}

impl Stats {
    pub(crate) fn count(&self, counter: Counter) {
        self.counter(counter).fetch_add(1, Ordering::Relaxed);
    }

    fn counter(&self, counter: Counter) -> &AtomicU64 {
        match counter {
            Counter::AuthorizationCode => &self.authorization_code,
            Counter::RefreshToken => &self.refresh_token,
            Counter::Password => &self.password,
            Counter::DeviceCode => &self.device_code,
            Counter::DeviceAuthorization => &self.device_authorization,
            Counter::Login => &self.logins,
            Counter::Revocation => &self.revocations,
        }
    }

    fn get(&self, counter: Counter) -> u64 {
        self.counter(counter).load(Ordering::Relaxed)
    }

    /// Token requests with `grant_type=authorization_code`.
    pub fn authorization_code_requests(&self) -> u64 {
        self.get(Counter::AuthorizationCode)
    }

    /// Token requests with `grant_type=refresh_token`.
    pub fn refresh_requests(&self) -> u64 {
        self.get(Counter::RefreshToken)
    }

    /// Token requests with `grant_type=password` (user logins and step-2 session credentials).
    pub fn password_requests(&self) -> u64 {
        self.get(Counter::Password)
    }

    /// Token requests with the device-code grant type (printer polls).
    pub fn device_code_requests(&self) -> u64 {
        self.get(Counter::DeviceCode)
    }

    /// Requests to the device authorization endpoint.
    pub fn device_authorization_requests(&self) -> u64 {
        self.get(Counter::DeviceAuthorization)
    }

    /// Credential submissions at the authorization endpoint (form posts and scripted logins).
    pub fn login_attempts(&self) -> u64 {
        self.get(Counter::Login)
    }

    /// Requests to the revocation endpoint.
    pub fn revocation_requests(&self) -> u64 {
        self.get(Counter::Revocation)
    }
}
