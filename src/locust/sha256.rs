//! SHA-256, only to order failure rows as Locust does.
//!
//! Locust keys each failure by the hex SHA-256 of `"{method}.{name}.{repr(error)}"`
//! and writes `_failures.csv` sorted by that key (`StatsError.create_key`,
//! `sort_stats` in `locust/stats.py`). The digest comes from the `sha2`
//! crate; this file only renders it as Python's `hexdigest()` does.

use std::fmt::Write;

use sha2::{Digest, Sha256};

/// The SHA-256 digest of `data` as 64 lowercase hex digits (Python's `hexdigest()`).
pub fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut out = String::with_capacity(64);
    for byte in digest {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_fips_180_test_vectors() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }
}
