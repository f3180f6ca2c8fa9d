//! Bounds and formats of untrusted `/api/v1` input.

use serde::{Deserialize, Deserializer};

use crate::error::ApiError;

/// Longest id accepted in a path or body.
const MAX_ID_LEN: usize = 64;
/// Longest file name.
const MAX_FILE_NAME_LEN: usize = 255;
/// Longest transfer URL (pre-authenticated URLs are long).
const MAX_URL_LEN: usize = 4096;
/// Longest free-text reason.
const MAX_REASON_LEN: usize = 256;
/// Most ranges in `pageRanges`.
const MAX_PAGE_RANGES: usize = 50;
/// Highest page number.
const MAX_PAGE: u32 = 99_999;

/// An optional body member that, when present, must not be `null` (the contract has no nullable
/// request members): use with `#[serde(default, deserialize_with = "validate::present")]`.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A non-negative JSON integer. JSON Schema's `integer` includes numbers with a zero fractional
/// part (`3.0`), so those are accepted too; any other fraction, a negative number or one past
/// 2^53 (where a double stops being exact) is refused.
pub fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    const MAX_EXACT: f64 = 9_007_199_254_740_992.0;
    let number = serde_json::Number::deserialize(deserializer)?;
    if let Some(n) = number.as_u64() {
        return Ok(n);
    }
    match number.as_f64() {
        Some(f) if f.fract() == 0.0 && (0.0..=MAX_EXACT).contains(&f) => Ok(f as u64),
        _ => Err(serde::de::Error::custom(format!(
            "invalid value: {number}, expected a non-negative integer"
        ))),
    }
}

/// [`whole_number`] for an optional member (absent is `None`, `null` is refused).
pub fn present_whole_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    whole_number(deserializer).map(Some)
}

/// An id from a path or body: 1–64 ASCII letters, digits, `-`, `_`, `.`, `:`.
pub fn id<'a>(field: &str, value: &'a str) -> Result<&'a str, ApiError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(value)
    } else {
        Err(ApiError::invalid(format!(
            "`{field}` must be 1–{MAX_ID_LEN} characters of letters, digits, - _ . :"
        )))
    }
}

/// A file name: 1–255 characters, no control characters or path separators, not `.`/`..`.
pub fn file_name(value: &str) -> Result<&str, ApiError> {
    let ok = !value.trim().is_empty()
        && value.chars().count() <= MAX_FILE_NAME_LEN
        && !value
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
        && value != "."
        && value != "..";
    if ok {
        Ok(value)
    } else {
        Err(ApiError::invalid(format!(
            "`fileName` must be 1–{MAX_FILE_NAME_LEN} characters without control characters or path separators"
        )))
    }
}

/// A pre-authenticated transfer URL: absolute `https`, or `http` on a loopback host (the
/// reference cloud's storage emulator). The server stores it and never fetches it.
pub fn transfer_url(field: &str, value: &str) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::invalid(format!(
            "`{field}` must be an absolute https URL of at most {MAX_URL_LEN} characters"
        ))
    };
    if value.len() > MAX_URL_LEN {
        return Err(invalid());
    }
    let url = url::Url::parse(value).map_err(|_| invalid())?;
    let loopback = matches!(
        url.host(),
        Some(url::Host::Ipv4(ip)) if ip.is_loopback()
    ) || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
        || url.host_str() == Some("localhost");
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url.into()),
        "http" if loopback => Ok(url.into()),
        _ => Err(invalid()),
    }
}

/// A MIME type such as `application/pdf`.
pub fn content_type(value: &str) -> Result<&str, ApiError> {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match value.split_once('/') {
        Some((kind, sub)) if value.len() <= 127 && token(kind) && token(sub) => Ok(value),
        _ => Err(ApiError::invalid(
            "`contentType` must be a MIME type like application/pdf",
        )),
    }
}

/// Optional free text (failure reasons): at most 256 characters, no control characters.
pub fn reason(value: Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        Some(r) if r.chars().count() > MAX_REASON_LEN || r.chars().any(char::is_control) => {
            Err(ApiError::invalid(format!(
                "`reason` must be at most {MAX_REASON_LEN} characters"
            )))
        }
        other => Ok(other),
    }
}

/// `pageRanges` such as `1-3,5,8-10`: ascending, non-overlapping, pages 1–99999.
pub fn page_ranges(value: &str) -> Result<&str, ApiError> {
    let invalid = || {
        ApiError::invalid(
            "`pageRanges` must look like `1-3,5,8-10`: ascending, non-overlapping ranges of pages ≥ 1",
        )
    };
    let parts: Vec<&str> = value.split(',').map(str::trim).collect();
    if value.chars().count() > 512 || parts.len() > MAX_PAGE_RANGES {
        return Err(invalid());
    }
    let page = |s: &str| {
        s.parse::<u32>()
            .ok()
            .filter(|p| (1..=MAX_PAGE).contains(p) && s.bytes().all(|b| b.is_ascii_digit()))
    };
    let mut last = 0;
    for part in parts {
        let (from, to) = match part.split_once('-') {
            Some((a, b)) => (page(a.trim()), page(b.trim())),
            None => (page(part), page(part)),
        };
        let (Some(from), Some(to)) = (from, to) else {
            return Err(invalid());
        };
        if from > to || from <= last {
            return Err(invalid());
        }
        last = to;
    }
    Ok(value)
}

/// An opaque reference issued by another service (a OneDrive drive or item id): 1–256 ASCII
/// letters, digits and `! - _ . :` (drive ids of OneDrive for Business start with `b!`).
pub fn opaque_ref<'a>(field: &str, value: &'a str) -> Result<&'a str, ApiError> {
    let ok = (1..=256).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'!' | b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(value)
    } else {
        Err(ApiError::invalid(format!(
            "`{field}` must be 1–256 characters of letters, digits, ! - _ . :"
        )))
    }
}

/// A media size name such as `A4` or `Letter`: 1–32 ASCII letters, digits and `- _ .`.
pub fn media(value: &str) -> Result<&str, ApiError> {
    let ok = (1..=32).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(value)
    } else {
        Err(ApiError::invalid(
            "`options.media` must be 1–32 characters of letters, digits, - _ .",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_ranges_are_checked() {
        for ok in ["1", "1-3", "1-3,5,8-10", "2, 4-6"] {
            assert!(page_ranges(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "0", "3-1", "1-3,2", "a", "1-", "1,,2", "-1", "+1", "100000",
        ] {
            assert!(page_ranges(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn transfer_urls_are_https_or_loopback() {
        assert!(transfer_url("u", "https://files.example/dl?sig=abc").is_ok());
        assert!(transfer_url("u", "http://127.0.0.1:8080/dl").is_ok());
        assert!(transfer_url("u", "http://files.example/dl").is_err());
        assert!(transfer_url("u", "file:///etc/passwd").is_err());
        assert!(transfer_url("u", "not a url").is_err());
    }

    #[test]
    fn file_names_are_bounded() {
        assert!(file_name("Quarterly report.pdf").is_ok());
        assert!(file_name("../etc/passwd").is_err());
        assert!(file_name("a\u{0}b").is_err());
        assert!(file_name(&"x".repeat(256)).is_err());
        assert!(file_name("  ").is_err());
    }
}
