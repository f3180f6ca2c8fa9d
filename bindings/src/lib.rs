//! Thin foreign-language layer over `roger-core`. It only converts types; behaviour lives in the core.
//! The UniFFI surface arrives with the bindings issue; until then this crate only re-exports the
//! core version so the library target builds for every platform.

/// The version of the core this library was built from.
pub fn core_version() -> String {
    roger_core::VERSION.to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reports_core_version() {
        assert_eq!(super::core_version(), roger_core::VERSION);
    }
}
