//! OneDrive (for Business) naming rules, checked before any request so a bad name gets a typed
//! error instead of a server round trip.

/// Why a file or folder name is not acceptable to OneDrive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty, or only spaces.
    #[error("the name is empty")]
    Empty,
    /// Longer than OneDrive allows.
    #[error("the name is longer than {max} characters")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// Contains a character OneDrive refuses.
    #[error("the name contains the character {0:?}, which OneDrive does not allow")]
    InvalidCharacter(char),
    /// Starts or ends with a space, or ends with a dot.
    #[error("the name must not start or end with a space or end with a dot")]
    BadEdges,
    /// A name OneDrive reserves (e.g. `CON`, `desktop.ini`, `~$…`).
    #[error("`{0}` is a reserved name in OneDrive")]
    Reserved(String),
}

/// Longest file or folder name OneDrive for Business accepts.
pub const MAX_NAME_CHARS: usize = 255;

const INVALID: [char; 9] = ['"', '*', ':', '<', '>', '?', '/', '\\', '|'];

/// Checks a single file or folder name against OneDrive's rules.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.trim().is_empty() {
        return Err(NameError::Empty);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong {
            max: MAX_NAME_CHARS,
        });
    }
    if let Some(c) = name.chars().find(|c| INVALID.contains(c) || c.is_control()) {
        return Err(NameError::InvalidCharacter(c));
    }
    if name.starts_with(' ') || name.ends_with(' ') || name.ends_with('.') {
        return Err(NameError::BadEdges);
    }
    let lower = name.to_ascii_lowercase();
    let stem = lower.split('.').next().unwrap_or_default();
    let device = matches!(stem, "con" | "prn" | "aux" | "nul")
        || ((stem.starts_with("com") || stem.starts_with("lpt"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    if device
        || lower == ".lock"
        || lower == "desktop.ini"
        || lower.starts_with("~$")
        || lower.contains("_vti_")
    {
        return Err(NameError::Reserved(name.to_owned()));
    }
    Ok(())
}

/// Replaces what OneDrive refuses so a local file name can be uploaded (used for names the user
/// did not type, e.g. scans named from a profile). Falls back to `fallback` when nothing is left.
pub fn sanitize_name(name: &str, fallback: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if INVALID.contains(&c) || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .take(MAX_NAME_CHARS)
        .collect();
    out = out.trim().trim_end_matches('.').trim().to_owned();
    if validate_name(&out).is_ok() {
        out
    } else {
        fallback.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_and_unicode_names_pass() {
        for ok in [
            "report.pdf",
            "Été 2026 #3 100%.docx",
            "日本語.txt",
            "a b",
            ".hidden",
        ] {
            assert_eq!(validate_name(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn each_rule_has_its_error() {
        assert_eq!(validate_name(""), Err(NameError::Empty));
        assert_eq!(validate_name("   "), Err(NameError::Empty));
        assert_eq!(validate_name("a:b"), Err(NameError::InvalidCharacter(':')));
        assert_eq!(
            validate_name("a\u{7}"),
            Err(NameError::InvalidCharacter('\u{7}'))
        );
        assert_eq!(validate_name(" a"), Err(NameError::BadEdges));
        assert_eq!(validate_name("a."), Err(NameError::BadEdges));
        for reserved in [
            "CON",
            "con.txt",
            "LPT1",
            "desktop.ini",
            "~$doc.docx",
            ".lock",
        ] {
            assert!(
                matches!(validate_name(reserved), Err(NameError::Reserved(_))),
                "{reserved}"
            );
        }
        assert_eq!(
            validate_name(&"x".repeat(256)),
            Err(NameError::TooLong { max: 255 })
        );
        assert_eq!(validate_name(&"é".repeat(255)), Ok(()));
    }

    #[test]
    fn sanitize_makes_names_valid() {
        assert_eq!(
            sanitize_name("Scan: 12/05 *draft*.", "scan.pdf"),
            "Scan_ 12_05 _draft_"
        );
        assert_eq!(sanitize_name("CON", "scan.pdf"), "scan.pdf");
        assert_eq!(sanitize_name("  ", "scan.pdf"), "scan.pdf");
    }
}
