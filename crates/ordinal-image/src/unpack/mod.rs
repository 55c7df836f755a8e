//! Unpacking one layer (a tar stream, plain, gzip or zstd) into a
//! directory in overlayfs format, confined to that directory whatever the
//! archive says, while computing the digests that prove the layer is the
//! one the image names: the compressed digest (the manifest's) over the
//! raw bytes and the diff_id (the config's) over the uncompressed tar.
//!
//! OCI whiteouts become overlayfs whiteouts: `.wh.<name>` is a character
//! device 0:0 named `<name>`, and `.wh..wh..opq` sets
//! `trusted.overlay.opaque=y` on its directory. The `tar` crate only reads
//! headers and data; every filesystem write goes through [`confined`].

pub mod confined;

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use tar::EntryType;

use crate::compression::{self, Compression};
use crate::digest::HashingReader;
use confined::{Confined, InnerPath, Meta, Special};

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// What unpacking a layer found out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unpacked {
    /// `sha256:` of the bytes as given (what a manifest names).
    pub compressed_digest: String,
    pub compressed_size: u64,
    /// `sha256:` of the uncompressed tar (what a config's `rootfs` names).
    pub diff_id: String,
    pub tar_size: u64,
    /// Bytes of file data written.
    pub disk_size: u64,
    pub compression: Compression,
}

/// Why a layer could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The stream is not a readable (compressed) tar: truncated, corrupt.
    #[error("reading the layer: {0}")]
    Read(#[source] io::Error),
    /// An entry the archive holds could not be written.
    #[error("layer entry {path}: {source}")]
    Entry {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl UnpackError {
    /// Whether the disk (not the archive) failed: full, read-only.
    pub fn is_disk(&self) -> bool {
        let e = match self {
            UnpackError::Read(e) | UnpackError::Entry { source: e, .. } => e,
        };
        matches!(
            e.raw_os_error(),
            Some(libc::ENOSPC | libc::EDQUOT | libc::EROFS)
        )
    }
}

/// Unpacks the layer read from `input` into `dest`, an existing empty
/// directory. On error `dest` holds a partial tree the caller discards.
pub fn unpack(input: impl Read, dest: &Path) -> Result<Unpacked, UnpackError> {
    let mut raw = HashingReader::new(input);
    let (compression, decoded) = compression::decompress(&mut raw).map_err(UnpackError::Read)?;
    let mut tar_stream = HashingReader::new(decoded);
    let mut tree = Confined::open(dest).map_err(|e| UnpackError::Entry {
        path: "/".into(),
        source: e,
    })?;
    {
        let mut archive = tar::Archive::new(&mut tar_stream);
        for entry in archive.entries().map_err(UnpackError::Read)? {
            let mut entry = entry.map_err(UnpackError::Read)?;
            apply_entry(&mut tree, &mut entry)?;
        }
    }
    tree.finish().map_err(|e| UnpackError::Entry {
        path: "/".into(),
        source: e,
    })?;
    // The digests cover every byte, including the tar's end blocks and
    // anything a compressor appended.
    let (diff_id, tar_size) = tar_stream.drain().map_err(UnpackError::Read)?;
    let (compressed_digest, compressed_size) = raw.drain().map_err(UnpackError::Read)?;
    Ok(Unpacked {
        compressed_digest,
        compressed_size,
        diff_id,
        tar_size,
        disk_size: tree.bytes_written,
        compression,
    })
}

/// Writes one tar entry into the tree.
fn apply_entry<R: Read>(
    tree: &mut Confined,
    entry: &mut tar::Entry<'_, R>,
) -> Result<(), UnpackError> {
    let raw_path = entry.path().map_err(UnpackError::Read)?.into_owned();
    let path = InnerPath::clean(&raw_path);
    let shown = path.to_string();
    let fail = |source: io::Error| UnpackError::Entry {
        path: shown.clone(),
        source,
    };
    let name = path.file_name().map(OsStr::as_bytes).unwrap_or_default();
    if name == OPAQUE_MARKER {
        return tree.opaque(&path.parent()).map_err(fail);
    }
    if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
        if hidden.is_empty() || hidden == b"." || hidden == b".." {
            return Err(fail(io::Error::new(
                io::ErrorKind::InvalidData,
                "bad whiteout name",
            )));
        }
        return tree
            .whiteout(&path.parent().join(OsStr::from_bytes(hidden)))
            .map_err(fail);
    }
    let meta = meta_of(entry).map_err(fail)?;
    let kind = entry.header().entry_type();
    match kind {
        EntryType::Directory => tree.dir(&path, &meta),
        _ if path.is_root() => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a non-directory entry names the layer root",
        )),
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
            tree.file(&path, &meta, entry)
        }
        EntryType::Symlink => link_name(entry).and_then(|t| tree.symlink(&path, &t, &meta)),
        EntryType::Link => {
            link_name(entry).and_then(|t| tree.hardlink(&path, &InnerPath::clean(&t)))
        }
        EntryType::Char | EntryType::Block => {
            let h = entry.header();
            let major = h.device_major().ok().flatten().unwrap_or(0);
            let minor = h.device_minor().ok().flatten().unwrap_or(0);
            let kind = if kind == EntryType::Char {
                Special::Char { major, minor }
            } else {
                Special::Block { major, minor }
            };
            tree.special(&path, kind, &meta)
        }
        EntryType::Fifo => tree.special(&path, Special::Fifo, &meta),
        other => {
            tracing::debug!(path = %shown, kind = ?other, "skipping tar entry of unsupported type");
            Ok(())
        }
    }
    .map_err(fail)
}

fn link_name<R: Read>(entry: &tar::Entry<'_, R>) -> io::Result<std::path::PathBuf> {
    entry
        .link_name()?
        .map(|p| p.into_owned())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "link without a target"))
}

/// Owner, mode, mtime and xattrs, PAX records taking precedence.
fn meta_of<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Meta> {
    let h = entry.header();
    let mut uid = h.uid()?;
    let mut gid = h.gid()?;
    let mode = h.mode()? & 0o7777;
    let mut mtime = h.mtime()? as i64;
    let mut xattrs = Vec::new();
    if let Some(exts) = entry.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            let key = ext.key_bytes();
            let value = ext.value_bytes();
            let number = || -> Option<u64> {
                std::str::from_utf8(value)
                    .ok()?
                    .split('.')
                    .next()?
                    .parse()
                    .ok()
            };
            match key {
                b"uid" => uid = number().unwrap_or(uid),
                b"gid" => gid = number().unwrap_or(gid),
                b"mtime" => mtime = number().map(|n| n as i64).unwrap_or(mtime),
                _ => {
                    if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                        if name.starts_with(b"trusted.overlay.")
                            || name.starts_with(b"user.overlay.")
                        {
                            // overlayfs reads these itself; an image
                            // setting them could redirect lookups.
                            tracing::warn!(
                                name = %String::from_utf8_lossy(name),
                                "ignoring an overlayfs xattr in a layer"
                            );
                            continue;
                        }
                        xattrs.push((OsString::from(OsStr::from_bytes(name)), value.to_vec()));
                    }
                }
            }
        }
    }
    let id = |v: u64| {
        u32::try_from(v)
            .ok()
            .filter(|&v| v != u32::MAX)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("owner id {v} out of range"),
                )
            })
    };
    Ok(Meta {
        uid: id(uid)?,
        gid: id(gid)?,
        mode,
        mtime,
        xattrs,
    })
}

/// Lists every path under `root` (relative, sorted), for tests comparing
/// trees before and after.
#[cfg(test)]
pub(crate) fn listing(root: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap_or(&p).display().to_string();
            let ft = e.file_type().ok();
            out.push(rel);
            if ft.is_some_and(|t| t.is_dir()) {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

#[cfg(test)]
mod tests;
