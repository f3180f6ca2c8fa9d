//! `uniffi-bindgen generate <library> --language kotlin|swift --out-dir <dir>`: the workspace's
//! own copy of UniFFI's generator, so the bindings always match the `uniffi` version used.

fn main() {
    uniffi::uniffi_bindgen_main()
}
