//! OneDrive names: validation, case-insensitive keys, the `name 1.ext` renaming, media types,
//! and percent-encoding of path segments (decoded exactly once on the way in).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::error::GraphError;

/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Longest decoded path from the root (`/a/b/c.pdf`), in characters.
pub const MAX_PATH_CHARS: usize = 400;

/// Characters OneDrive refuses anywhere in a name.
const INVALID_CHARS: &[char] = &['"', '*', ':', '<', '>', '?', '/', '\\', '|'];
/// Device names refused as a name or as the part before the first dot.
const RESERVED_STEMS: &[&str] = &["CON", "PRN", "AUX", "NUL"];

/// What stays literal in a path segment: RFC 3986 `pchar` minus `:` (the path delimiter of
/// `root:/…:`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b'@');

/// Whether a name may be created (a file, or a folder when `folder`).
pub fn validate_name(name: &str) -> Result<(), GraphError> {
    let invalid = |why: &str| Err(GraphError::invalid(why.to_string()).inner("invalidPath"));
    if name.is_empty() {
        return invalid("The name is empty.");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(GraphError::invalid(format!(
            "The name is longer than {MAX_NAME_CHARS} characters."
        ))
        .inner("parameterIsTooLong"));
    }
    if name
        .chars()
        .any(|c| INVALID_CHARS.contains(&c) || c.is_control())
    {
        return invalid(
            "The name contains invalid characters (\" * : < > ? / \\ | or a control character).",
        );
    }
    if name.starts_with(' ') || name.ends_with(' ') {
        return invalid("The name has leading or trailing spaces.");
    }
    if name.ends_with('.') {
        return invalid("The name ends with a period.");
    }
    if name.starts_with('~') {
        return invalid("The name begins with a tilde (this includes Office lock files `~$…`).");
    }
    let lower = name.to_lowercase();
    if lower == ".lock" || lower == "desktop.ini" || lower.contains("_vti_") {
        return invalid("The name is reserved.");
    }
    let stem = name.split('.').next().unwrap_or(name).to_ascii_uppercase();
    let device = RESERVED_STEMS.contains(&stem.as_str())
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    if device {
        return invalid("The name is a reserved device name.");
    }
    Ok(())
}

/// The key under which a name is unique in its folder (OneDrive is case-insensitive).
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// The `n`-th alternative of a taken name, as OneDrive renames: `Report.pdf` → `Report 1.pdf`,
/// `Scan` → `Scan 1`.
pub fn rename_candidate(name: &str, n: u32) -> String {
    match name.rfind('.') {
        Some(dot) if dot > 0 => format!("{} {n}{}", &name[..dot], &name[dot..]),
        _ => format!("{name} {n}"),
    }
}

/// Decodes one percent-encoded path segment, once. Malformed escapes and bytes that are not
/// UTF-8 are refused.
pub fn decode_segment(raw: &str) -> Result<String, GraphError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(byte) = hex else {
                return Err(
                    GraphError::invalid("Malformed percent-encoding in the path.")
                        .inner("invalidParameterFormat"),
                );
            };
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| {
        GraphError::invalid("The path is not UTF-8 after percent-decoding.")
            .inner("invalidParameterFormat")
    })
}

/// Percent-encodes a name for a URL path segment.
pub fn encode_segment(name: &str) -> String {
    utf8_percent_encode(name, SEGMENT).to_string()
}

/// The media type OneDrive reports, from the extension.
pub fn mime_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "tif" | "tiff" => "image/tiff",
        "gif" => "image/gif",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "htm" | "html" => "text/html",
        "json" => "application/json",
        "xps" => "application/vnd.ms-xpsdocument",
        "ps" => "application/postscript",
        "zip" => "application/zip",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_onedrive_rules() {
        for ok in [
            "Report Q3.pdf",
            "50% #1 & co.pdf",
            "Überweisung – 日本語.pdf",
            "a.b.c",
            "COMPANY.pdf",
            "com10.txt",
            ".hidden",
            "x~$y",
        ] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a:b",
            "a*b",
            "a\"b",
            "a<b",
            "a>b",
            "a?b",
            "a/b",
            "a\\b",
            "a|b",
            " lead",
            "trail ",
            "dot.",
            "~$lock.docx",
            "~tilde",
            "CON",
            "con.txt",
            "Lpt1",
            "COM0.pdf",
            "AUX",
            "nul.tar.gz",
            ".lock",
            "Desktop.ini",
            "x_vti_y",
            "tab\there",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_name(&"x".repeat(255)).is_ok());
        assert!(validate_name(&"x".repeat(256)).is_err());
    }

    #[test]
    fn renames_like_onedrive() {
        assert_eq!(rename_candidate("Report.pdf", 1), "Report 1.pdf");
        assert_eq!(rename_candidate("Scan", 2), "Scan 2");
        assert_eq!(rename_candidate(".hidden", 1), ".hidden 1");
        assert_eq!(rename_candidate("a.tar.gz", 1), "a.tar 1.gz");
    }

    #[test]
    fn segments_decode_once_and_round_trip() {
        assert_eq!(decode_segment("a%20b%23c%25d").unwrap(), "a b#c%d");
        assert_eq!(decode_segment("%2523").unwrap(), "%23", "decoded once only");
        assert_eq!(
            decode_segment("a+b").unwrap(),
            "a+b",
            "plus is literal in paths"
        );
        assert_eq!(decode_segment("%E6%97%A5").unwrap(), "日");
        assert!(decode_segment("%zz").is_err());
        assert!(decode_segment("%4").is_err());
        assert!(decode_segment("%ff").is_err());
        for name in ["50% #1 & co (v2).pdf", "日本語 ünï.pdf", "a+b=c;d@e"] {
            assert_eq!(decode_segment(&encode_segment(name)).unwrap(), name);
        }
        assert_eq!(encode_segment("a b#%?/"), "a%20b%23%25%3F%2F");
    }

    #[test]
    fn media_types_come_from_the_extension() {
        assert_eq!(mime_type("x.PDF"), "application/pdf");
        assert_eq!(mime_type("scan.tif"), "image/tiff");
        assert_eq!(mime_type("noext"), "application/octet-stream");
    }
}
