//! The platform keyring backend on desktop Linux (the kernel keyutils store), for real.
//!
//! Containers and CI often hand processes a session keyring they may not write to, so the test
//! first joins a fresh anonymous session keyring (`KEYCTL_JOIN_SESSION_KEYRING`), exactly what
//! `keyctl session -` does.

#![cfg(all(target_os = "linux", not(target_os = "android")))]

use roger_core::store::{KeyringStore, SecureStore};

fn join_fresh_session_keyring() {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl(JOIN_SESSION_KEYRING, NULL) takes no pointers to our memory (NULL name =
    // a new anonymous keyring) and only changes this thread's session keyring.
    let id = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    assert!(
        id > 0,
        "keyctl join failed: {}",
        std::io::Error::last_os_error()
    );
}

#[test]
fn secrets_round_trip_through_the_kernel_keyring() {
    join_fresh_session_keyring();
    let store = KeyringStore::platform("roger-core-test").unwrap();
    let key = format!("account.test.{}", std::process::id());
    assert_eq!(store.get(&key).unwrap(), None);
    store.set(&key, b"{\"refresh_token\":\"canary\"}").unwrap();
    store.set(&key, b"second").unwrap();
    assert_eq!(store.get(&key).unwrap().as_deref(), Some(&b"second"[..]));
    store.delete(&key).unwrap();
    store.delete(&key).unwrap();
    assert_eq!(store.get(&key).unwrap(), None);
}
