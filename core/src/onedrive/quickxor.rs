//! QuickXorHash, the content hash OneDrive reports for every file (`file.hashes.quickXorHash`,
//! base64): the only hash Graph documents as available on both OneDrive for work or school and
//! OneDrive for home. The core uses it to recognise a file it uploaded itself.
//!
//! The algorithm (Microsoft's published snippet): a 160-bit register; byte `i` of the content is
//! XORed in at bit `(11 * i) mod 160`, wrapping around the register; finally the content length
//! (64-bit little-endian) is XORed into the register's last 8 bytes.

const WIDTH_BITS: usize = 160;
const SHIFT: usize = 11;

/// The QuickXorHash of `content`, base64 (standard alphabet, padded) as Graph sends it.
pub(crate) fn quick_xor_hash(content: &[u8]) -> String {
    let mut register = [0u8; WIDTH_BITS / 8];
    for (i, &byte) in content.iter().enumerate() {
        let bit = (i % WIDTH_BITS) * SHIFT % WIDTH_BITS;
        let (at, offset) = (bit / 8, bit % 8);
        let wide = u16::from(byte) << offset;
        register[at] ^= wide as u8;
        register[(at + 1) % register.len()] ^= (wide >> 8) as u8;
    }
    let len = (content.len() as u64).to_le_bytes();
    let tail = register.len() - len.len();
    for (r, l) in register[tail..].iter_mut().zip(len) {
        *r ^= l;
    }
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(register)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Published test vectors of the algorithm.
        assert_eq!(quick_xor_hash(b""), "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        assert_eq!(
            quick_xor_hash(b"hello world"),
            "aCgDG9jwBhDc4Q1yawMZAAAAAAA="
        );
    }

    #[test]
    fn every_byte_position_counts() {
        // Past the 160-byte wrap the register keeps mixing: different content, different hash.
        let a: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let mut b = a.clone();
        b[999] ^= 1;
        assert_ne!(quick_xor_hash(&a), quick_xor_hash(&b));
        assert_eq!(quick_xor_hash(&a), quick_xor_hash(&a.clone()));
    }
}
