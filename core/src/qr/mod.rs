//! QR decoding.
