//! Recognizing and undoing a stream's compression by its first bytes:
//! media types lie often enough (docker-save layers named `.tar` that are
//! gzip, registries serving zstd as `tar+gzip`) that only magic is trusted.

use std::io::{self, BufReader, Read};

/// How a stream is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain bytes (`application/vnd.oci.image.layer.v1.tar`).
    None,
    /// gzip (`+gzip`), what Docker and most registries use.
    Gzip,
    /// Zstandard (`+zstd`).
    Zstd,
}

impl Compression {
    /// Recognizes gzip and zstd magic; anything else is taken as plain.
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Large reads: fewer syscalls and decoder calls per byte.
pub const BUFFER: usize = 256 * 1024;

/// Wraps `r` in the decoder its first bytes call for.
pub fn decompress<'a, R: Read + 'a>(mut r: R) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match r.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let kind = Compression::detect(&head[..n]);
    let buffered = BufReader::with_capacity(BUFFER, io::Cursor::new(head[..n].to_vec()).chain(r));
    let reader: Box<dyn Read + 'a> = match kind {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(buffered)?;
            // Layers are made with long windows now and then.
            d.window_log_max(31)?;
            Box::new(d)
        }
    };
    Ok((kind, reader))
}
