//! Content digests (`sha256:<hex>`) computed while data streams through,
//! so nothing is read twice to be verified.

use std::io::{self, Read};

use ring::digest::{Context, SHA256};

/// A running SHA-256 over everything read or written through it.
pub struct Hasher {
    ctx: Context,
    count: u64,
}

impl Default for Hasher {
    fn default() -> Self {
        Hasher {
            ctx: Context::new(&SHA256),
            count: 0,
        }
    }
}

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        self.ctx.update(data);
        self.count += data.len() as u64;
    }

    /// Bytes seen so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// `sha256:<hex>` of everything seen.
    pub fn finish(self) -> String {
        format!("sha256:{}", hex(self.ctx.finish().as_ref()))
    }
}

/// `sha256:<hex>` of a byte string.
pub fn sha256(data: &[u8]) -> String {
    let mut h = Hasher::default();
    h.update(data);
    h.finish()
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The hex part of a `sha256:<hex>` digest, if it is one.
pub fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(hex)
}

/// A reader that hashes what passes through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::default(),
        }
    }

    /// Reads the rest of the stream (so the digest covers it all) and
    /// returns the digest and byte count.
    pub fn drain(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        let count = self.hasher.count();
        Ok((self.hasher.finish(), count))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest_of_empty_input() {
        assert_eq!(
            sha256(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(sha256_hex(&sha256(b"x")).is_some());
        assert!(sha256_hex("sha256:XYZ").is_none());
    }
}
