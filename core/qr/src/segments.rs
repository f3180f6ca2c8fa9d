//! The data segments of a corrected QR code (ISO/IEC 18004:2015, 7.4): numeric, alphanumeric
//! and byte segments, ECI designators, the terminator.
//!
//! [`reed_solomon::correct`](crate::reed_solomon::correct) hands over the corrected data
//! codewords, so a read grid does not pay rqrr's decoder again (which corrects once more, with
//! a syndrome loop that is about a fifth of a read frame's time). The text is what rqrr makes
//! of the same segments (the segment bytes, as UTF-8, ECI designators read and skipped).
//! Kanji segments are left to rqrr ([`Parsed::Unsupported`]); digits or character pairs out of
//! their range, segments longer than the data and structured-append or FNC1 headers are
//! refused, as the standard has no reading for them.

/// What the data codewords hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// The code's text.
    Text(String),
    /// A segment this parser leaves to rqrr (Kanji).
    Unsupported,
    /// Not a valid segment stream (or not UTF-8).
    Invalid,
}

/// Reads bits from the data codewords, most significant first.
struct Bits<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bits<'_> {
    fn remaining(&self) -> usize {
        self.data.len() * 8 - self.at
    }

    /// The next `n` bits (at most 24), or `None` past the end.
    fn take(&mut self, n: usize) -> Option<u32> {
        if n > self.remaining() {
            return None;
        }
        let mut v = 0u32;
        for _ in 0..n {
            let bit = self.data[self.at / 8] >> (7 - self.at % 8) & 1;
            v = v << 1 | u32::from(bit);
            self.at += 1;
        }
        Some(v)
    }
}

/// Bits of a segment's character count, by mode, for versions 1-9, 10-26 and 27-40.
fn count_bits(version: usize, widths: [usize; 3]) -> usize {
    match version {
        0..=9 => widths[0],
        10..=26 => widths[1],
        _ => widths[2],
    }
}

const ALPHANUMERIC: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Parses the data codewords of a code of `version` (1 to 40) into its text.
pub(crate) fn parse(version: usize, data: &[u8]) -> Parsed {
    match read(version, data) {
        Ok(bytes) => String::from_utf8(bytes).map_or(Parsed::Invalid, Parsed::Text),
        Err(p) => p,
    }
}

fn read(version: usize, data: &[u8]) -> Result<Vec<u8>, Parsed> {
    let mut bits = Bits { data, at: 0 };
    let mut out = Vec::with_capacity(data.len());
    let invalid = || Parsed::Invalid;
    // Fewer than 4 bits left: the terminator may be cut short (7.4.9).
    while bits.remaining() >= 4 {
        match bits.take(4).ok_or_else(invalid)? {
            0 => break,
            1 => {
                let mut count = bits
                    .take(count_bits(version, [10, 12, 14]))
                    .ok_or_else(invalid)?;
                while count > 0 {
                    let digits = count.min(3);
                    let width = [4, 7, 10][digits as usize - 1];
                    let v = bits.take(width).ok_or_else(invalid)?;
                    if v >= 10u32.pow(digits) {
                        return Err(Parsed::Invalid);
                    }
                    for d in (0..digits).rev() {
                        out.push(b'0' + (v / 10u32.pow(d) % 10) as u8);
                    }
                    count -= digits;
                }
            }
            2 => {
                let mut count = bits
                    .take(count_bits(version, [9, 11, 13]))
                    .ok_or_else(invalid)?;
                while count > 0 {
                    let pair = count >= 2;
                    let v = bits.take(if pair { 11 } else { 6 }).ok_or_else(invalid)? as usize;
                    if pair {
                        let (hi, lo) = (v / 45, v % 45);
                        if hi >= 45 {
                            return Err(Parsed::Invalid);
                        }
                        out.extend([ALPHANUMERIC[hi], ALPHANUMERIC[lo]]);
                        count -= 2;
                    } else {
                        out.push(*ALPHANUMERIC.get(v).ok_or_else(invalid)?);
                        count -= 1;
                    }
                }
            }
            4 => {
                let count = bits
                    .take(count_bits(version, [8, 16, 16]))
                    .ok_or_else(invalid)?;
                if count as usize * 8 > bits.remaining() {
                    return Err(Parsed::Invalid);
                }
                for _ in 0..count {
                    out.push(bits.take(8).ok_or_else(invalid)? as u8);
                }
            }
            7 => {
                // ECI designator: 1, 2 or 3 bytes by its leading bits (7.4.2.2).
                let first = bits.take(8).ok_or_else(invalid)?;
                let more = match first {
                    f if f & 0x80 == 0 => 0,
                    f if f & 0xc0 == 0x80 => 8,
                    f if f & 0xe0 == 0xc0 => 16,
                    _ => return Err(Parsed::Invalid),
                };
                bits.take(more).ok_or_else(invalid)?;
            }
            8 => return Err(Parsed::Unsupported),
            _ => return Err(Parsed::Invalid),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Data codewords of `segments` (mode, count, payload bits as `(value, width)`) padded to
    /// `len` bytes.
    fn stream(parts: &[(u32, usize)], len: usize) -> Vec<u8> {
        let mut bits: Vec<bool> = Vec::new();
        for &(v, w) in parts {
            bits.extend((0..w).rev().map(|i| v >> i & 1 == 1));
        }
        let mut out = vec![0u8; len];
        for (i, b) in bits.into_iter().enumerate() {
            if b {
                out[i / 8] |= 0x80 >> (i % 8);
            }
        }
        out
    }

    #[test]
    fn numeric_alphanumeric_byte_and_eci_segments_read() {
        // "01234567" numeric: 012 345 67; then "AC-42" alphanumeric; then "é" as UTF-8 bytes
        // after an ECI designator (26 = UTF-8).
        let data = stream(
            &[
                (1, 4),
                (8, 10),
                (12, 10),
                (345, 10),
                (67, 7),
                (2, 4),
                (5, 9),
                (10 * 45 + 12, 11),
                (41 * 45 + 4, 11),
                (2, 6),
                (7, 4),
                (26, 8),
                (4, 4),
                (2, 8),
                (0xc3, 8),
                (0xa9, 8),
                (0, 4),
            ],
            20,
        );
        assert_eq!(parse(1, &data), Parsed::Text("01234567AC-42é".into()));
    }

    #[test]
    fn count_widths_follow_the_version() {
        let byte = |width: usize| stream(&[(4, 4), (1, width), (b'x' as u32, 8)], 8);
        assert_eq!(parse(9, &byte(8)), Parsed::Text("x".into()));
        assert_eq!(parse(10, &byte(16)), Parsed::Text("x".into()));
        assert_eq!(parse(27, &byte(16)), Parsed::Text("x".into()));
        let digits = |width: usize| stream(&[(1, 4), (1, width), (7, 4)], 8);
        assert_eq!(parse(26, &digits(12)), Parsed::Text("7".into()));
        assert_eq!(parse(40, &digits(14)), Parsed::Text("7".into()));
        let pair = |width: usize| stream(&[(2, 4), (1, width), (36, 6)], 8);
        assert_eq!(parse(10, &pair(11)), Parsed::Text(" ".into()));
        assert_eq!(parse(27, &pair(13)), Parsed::Text(" ".into()));
    }

    #[test]
    fn malformed_streams_are_refused_and_kanji_is_left_to_rqrr() {
        // Three digits of value 1000 and more, a pair of value 45 * 45, a character of 45.
        assert_eq!(
            parse(1, &stream(&[(1, 4), (3, 10), (1000, 10)], 6)),
            Parsed::Invalid
        );
        assert_eq!(
            parse(1, &stream(&[(2, 4), (2, 9), (2025, 11)], 6)),
            Parsed::Invalid
        );
        assert_eq!(
            parse(1, &stream(&[(2, 4), (1, 9), (45, 6)], 6)),
            Parsed::Invalid
        );
        // A byte segment longer than the data, digits cut short.
        assert_eq!(parse(1, &stream(&[(4, 4), (9, 8)], 4)), Parsed::Invalid);
        assert_eq!(parse(1, &stream(&[(1, 4), (3, 10)], 2)), Parsed::Invalid);
        // Structured append, FNC1, reserved modes, a 4-byte ECI designator.
        for mode in [3, 5, 6, 9, 10, 15] {
            assert_eq!(
                parse(1, &stream(&[(mode, 4)], 4)),
                Parsed::Invalid,
                "{mode}"
            );
        }
        assert_eq!(parse(1, &stream(&[(7, 4), (0xe0, 8)], 4)), Parsed::Invalid);
        // Bytes that are not UTF-8.
        assert_eq!(
            parse(1, &stream(&[(4, 4), (1, 8), (0xff, 8)], 4)),
            Parsed::Invalid
        );
        assert_eq!(parse(1, &stream(&[(8, 4), (1, 8)], 4)), Parsed::Unsupported);
    }

    #[test]
    fn a_short_terminator_and_padding_end_the_text() {
        // "12" in 21 bits, then 3 bits left: the terminator cut short.
        let mut data = stream(&[(1, 4), (2, 10), (12, 7)], 3);
        data[2] |= 0b111;
        assert_eq!(parse(1, &data), Parsed::Text("12".into()));
        // Padding codewords (0xEC, 0x11) after a terminator are not read.
        let mut data = stream(&[(4, 4), (1, 8), (b'A' as u32, 8), (0, 4)], 6);
        data[3..].copy_from_slice(&[0xec, 0x11, 0xec]);
        assert_eq!(parse(1, &data), Parsed::Text("A".into()));
    }

    #[test]
    fn any_bytes_parse_without_panic_into_a_bounded_text() {
        let mut seed = 0x9e37_79b9_u32;
        for len in 0..200 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as u8
                })
                .collect();
            for version in [1, 9, 10, 26, 27, 40] {
                // Numeric segments are the densest: 3 digits in 10 bits.
                if let Parsed::Text(t) = parse(version, &data) {
                    assert!(t.len() <= data.len() * 3, "{len} bytes, version {version}");
                }
            }
        }
    }
}
