//! Making real images without docker, for tests everywhere (the node's,
//! the end-to-end tests, benchmarks): layers from in-memory entries or
//! host files, an image config, and output as an OCI layout directory, an
//! OCI archive or a docker-save archive, each plain, gzip or zstd; plus
//! multi-platform indexes.
//!
//! ```no_run
//! use ordinal_image::build::{ImageBuilder, Format};
//! use ordinal_image::compression::Compression;
//! let image = ImageBuilder::new()
//!     .add_bytes("/hello.txt", b"hi\n", 0o644)
//!     .cmd(["/bin/sh"])
//!     .build();
//! ordinal_image::build::write(
//!     std::path::Path::new("/tmp/hello.tar"),
//!     Format::DockerArchive,
//!     Compression::None,
//!     &[ordinal_image::build::Tagged::one(&image, "hello:1")],
//! ).unwrap();
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::compression::Compression;
use crate::digest::{self, sha256};

/// One entry of a layer.
#[derive(Clone, Debug)]
pub(crate) enum Entry {
    File {
        path: String,
        data: Vec<u8>,
        mode: u32,
        uid: u64,
        gid: u64,
        mtime: u64,
        xattrs: Vec<(String, Vec<u8>)>,
    },
    Dir {
        path: String,
        mode: u32,
        uid: u64,
        gid: u64,
    },
    Symlink {
        path: String,
        target: String,
    },
    #[cfg(test)]
    HardLink {
        path: String,
        target: String,
    },
    #[cfg(test)]
    Char {
        path: String,
        major: u32,
        minor: u32,
    },
    Fifo {
        path: String,
    },
    /// An OCI whiteout (`.wh.<name>`) hiding `path` of lower layers.
    Whiteout {
        path: String,
    },
    /// An opaque-directory marker (`.wh..wh..opq`) in `dir`.
    Opaque {
        dir: String,
    },
    /// A header written as given, name and link bytes unchecked: for
    /// hostile archives (`../x`, absolute paths, links out).
    #[cfg(test)]
    Raw {
        kind: tar::EntryType,
        name: Vec<u8>,
        link: Vec<u8>,
        data: Vec<u8>,
        mode: u32,
    },
}

/// A finished blob: bytes, digest and media type.
#[derive(Clone, Debug)]
pub struct Blob {
    pub(crate) media_type: String,
    pub(crate) digest: String,
    /// The blob's content, compressed as it is stored.
    pub bytes: Vec<u8>,
}

impl Blob {
    fn new(media_type: &str, bytes: Vec<u8>) -> Blob {
        Blob {
            media_type: media_type.to_string(),
            digest: sha256(&bytes),
            bytes,
        }
    }

    fn descriptor(&self) -> serde_json::Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.bytes.len()})
    }
}

/// A built single-platform image.
#[derive(Clone, Debug)]
pub struct BuiltImage {
    pub(crate) config: Blob,
    pub(crate) manifest: Blob,
    /// The layer blobs, lowest first, compressed as the builder was told.
    pub layers: Vec<Blob>,
    pub(crate) diff_ids: Vec<String>,
    /// The platform, for an index entry.
    #[cfg(test)]
    pub(crate) os: String,
    #[cfg(test)]
    pub(crate) architecture: String,
}

impl BuiltImage {
    /// The image id a store gives it: `sha256:` of the config.
    pub fn id(&self) -> &str {
        &self.config.digest
    }
}

/// A multi-platform image: an index over single-platform images.
#[derive(Clone, Debug)]
pub struct BuiltIndex {
    pub(crate) index: Blob,
    pub(crate) images: Vec<BuiltImage>,
}

impl BuiltIndex {
    /// An OCI index over `images`, each entry carrying its platform.
    #[cfg(test)]
    pub(crate) fn new(images: Vec<BuiltImage>) -> BuiltIndex {
        let manifests: Vec<_> = images
            .iter()
            .map(|i| {
                let mut d = i.manifest.descriptor();
                d["platform"] = json!({"os": i.os, "architecture": i.architecture});
                d
            })
            .collect();
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        });
        BuiltIndex {
            index: Blob::new(
                "application/vnd.oci.image.index.v1+json",
                serde_json::to_vec(&index).expect("json"),
            ),
            images,
        }
    }
}

/// Builds an image layer by layer.
#[derive(Clone, Debug)]
pub struct ImageBuilder {
    layers: Vec<Vec<Entry>>,
    compression: Compression,
    config: serde_json::Map<String, serde_json::Value>,
    env: Vec<String>,
    volumes: BTreeMap<String, serde_json::Value>,
    labels: BTreeMap<String, String>,
    os: String,
    architecture: String,
    docker_media_types: bool,
}

impl Default for ImageBuilder {
    fn default() -> Self {
        ImageBuilder::new()
    }
}

/// Why a builder could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Something the image needs is not on this machine (what, in words).
    #[error("{0}")]
    Missing(String),
    /// A host file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The host file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
}

impl ImageBuilder {
    /// An empty image for this machine's platform, gzip layers.
    pub fn new() -> ImageBuilder {
        ImageBuilder {
            layers: vec![Vec::new()],
            compression: Compression::Gzip,
            config: serde_json::Map::new(),
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            volumes: BTreeMap::new(),
            labels: BTreeMap::new(),
            os: "linux".into(),
            architecture: crate::platform::goarch().into(),
            docker_media_types: false,
        }
    }

    /// Starts a new layer; later entries go into it.
    pub fn layer(mut self) -> Self {
        self.layers.push(Vec::new());
        self
    }

    /// Adds an entry to the current layer.
    pub(crate) fn entry(mut self, e: Entry) -> Self {
        self.layers.last_mut().expect("a layer").push(e);
        self
    }

    /// A regular file with `data` and `mode`, owned by root, at a fixed
    /// mtime (so builds are reproducible).
    pub fn add_bytes(self, path: &str, data: &[u8], mode: u32) -> Self {
        self.entry(Entry::File {
            path: path.into(),
            data: data.to_vec(),
            mode,
            uid: 0,
            gid: 0,
            mtime: 1_700_000_000,
            xattrs: Vec::new(),
        })
    }

    /// A directory with `mode`, owned by root.
    pub fn mkdir(self, path: &str, mode: u32) -> Self {
        self.entry(Entry::Dir {
            path: path.into(),
            mode,
            uid: 0,
            gid: 0,
        })
    }

    /// A symbolic link at `path` to `target` (kept as written).
    pub fn add_symlink(self, path: &str, target: &str) -> Self {
        self.entry(Entry::Symlink {
            path: path.into(),
            target: target.into(),
        })
    }

    /// An OCI whiteout: `path` of lower layers is deleted.
    pub fn whiteout(self, path: &str) -> Self {
        self.entry(Entry::Whiteout { path: path.into() })
    }

    /// An opaque-directory marker: what lower layers hold under `dir`
    /// is hidden.
    pub fn opaque(self, dir: &str) -> Self {
        self.entry(Entry::Opaque { dir: dir.into() })
    }

    /// A host file, with its mode and owner, at `image_path`.
    pub fn add_file(self, host_path: &Path, image_path: &str) -> Result<Self, BuildError> {
        let io_err = |source| BuildError::Io {
            path: host_path.to_path_buf(),
            source,
        };
        let meta = fs::metadata(host_path).map_err(io_err)?;
        let data = fs::read(host_path).map_err(io_err)?;
        Ok(self.entry(Entry::File {
            path: image_path.into(),
            data,
            mode: meta.mode() & 0o7777,
            uid: meta.uid() as u64,
            gid: meta.gid() as u64,
            mtime: meta.mtime().max(0) as u64,
            xattrs: Vec::new(),
        }))
    }

    /// A host directory tree (files, directories, symlinks) at `image_path`.
    pub fn add_dir(mut self, host_dir: &Path, image_path: &str) -> Result<Self, BuildError> {
        let io_err = |p: &Path| {
            let p = p.to_path_buf();
            move |source| BuildError::Io { path: p, source }
        };
        let meta = fs::symlink_metadata(host_dir).map_err(io_err(host_dir))?;
        self = self.entry(Entry::Dir {
            path: image_path.into(),
            mode: meta.mode() & 0o7777,
            uid: meta.uid() as u64,
            gid: meta.gid() as u64,
        });
        let mut children: Vec<_> = fs::read_dir(host_dir)
            .map_err(io_err(host_dir))?
            .flatten()
            .collect();
        children.sort_by_key(|e| e.file_name());
        for child in children {
            let host = child.path();
            let inner = format!(
                "{}/{}",
                image_path.trim_end_matches('/'),
                child.file_name().to_string_lossy()
            );
            let ft = child.file_type().map_err(io_err(&host))?;
            if ft.is_dir() {
                self = self.add_dir(&host, &inner)?;
            } else if ft.is_symlink() {
                let target = fs::read_link(&host).map_err(io_err(&host))?;
                self = self.add_symlink(&inner, &target.to_string_lossy());
            } else if ft.is_file() {
                self = self.add_file(&host, &inner)?;
            } else if ft.is_fifo() {
                self = self.entry(Entry::Fifo { path: inner });
            }
        }
        Ok(self)
    }

    /// How the layers are compressed (gzip unless set).
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }

    /// Docker schema-2 media types instead of OCI ones.
    pub fn docker_media_types(mut self) -> Self {
        self.docker_media_types = true;
        self
    }

    /// The platform the config and an index entry name.
    #[cfg(test)]
    pub(crate) fn platform(mut self, os: &str, architecture: &str) -> Self {
        self.os = os.into();
        self.architecture = architecture.into();
        self
    }

    fn set<V: Into<serde_json::Value>>(mut self, key: &str, v: V) -> Self {
        self.config.insert(key.into(), v.into());
        self
    }

    /// The config's `Entrypoint`.
    pub fn entrypoint<I: IntoIterator<Item = S>, S: Into<String>>(self, argv: I) -> Self {
        let v: Vec<String> = argv.into_iter().map(Into::into).collect();
        self.set("Entrypoint", v)
    }

    /// The config's `Cmd`, the default arguments.
    pub fn cmd<I: IntoIterator<Item = S>, S: Into<String>>(self, argv: I) -> Self {
        let v: Vec<String> = argv.into_iter().map(Into::into).collect();
        self.set("Cmd", v)
    }

    /// Adds `NAME=value` (replacing an earlier NAME).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.retain(|e| e.split('=').next() != Some(name));
        self.env.push(format!("{name}={value}"));
        self
    }

    /// The config's `WorkingDir`.
    pub fn workdir(self, dir: &str) -> Self {
        self.set("WorkingDir", dir)
    }

    /// The config's `User` (`name`, `uid`, `uid:gid`).
    pub fn user(self, user: &str) -> Self {
        self.set("User", user)
    }

    /// Adds `path` to the config's `Volumes`.
    pub fn volume(mut self, path: &str) -> Self {
        self.volumes.insert(path.into(), json!({}));
        self
    }

    /// Sets the config's label `k` to `v`.
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.labels.insert(k.into(), v.into());
        self
    }

    /// Makes the layers, config and manifest.
    pub fn build(&self) -> BuiltImage {
        let (layer_type, config_type, manifest_type) = if self.docker_media_types {
            (
                match self.compression {
                    Compression::None => "application/vnd.docker.image.rootfs.diff.tar",
                    _ => "application/vnd.docker.image.rootfs.diff.tar.gzip",
                },
                "application/vnd.docker.container.image.v1+json",
                "application/vnd.docker.distribution.manifest.v2+json",
            )
        } else {
            (
                match self.compression {
                    Compression::None => "application/vnd.oci.image.layer.v1.tar",
                    Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
                    Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
                },
                "application/vnd.oci.image.config.v1+json",
                "application/vnd.oci.image.manifest.v1+json",
            )
        };
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for entries in &self.layers {
            let tar = layer_tar(entries).expect("writing a tar to memory");
            diff_ids.push(sha256(&tar));
            layers.push(Blob::new(layer_type, compress(&tar, self.compression)));
        }
        let mut cfg = self.config.clone();
        cfg.insert("Env".into(), json!(self.env));
        if !self.volumes.is_empty() {
            cfg.insert("Volumes".into(), json!(self.volumes));
        }
        if !self.labels.is_empty() {
            cfg.insert("Labels".into(), json!(self.labels));
        }
        let config = json!({
            "architecture": self.architecture,
            "os": self.os,
            "created": "2024-01-01T00:00:00Z",
            "config": cfg,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [],
        });
        let config = Blob::new(config_type, serde_json::to_vec(&config).expect("json"));
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": config.descriptor(),
            "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
        });
        BuiltImage {
            manifest: Blob::new(manifest_type, serde_json::to_vec(&manifest).expect("json")),
            config,
            layers,
            diff_ids,
            #[cfg(test)]
            os: self.os.clone(),
            #[cfg(test)]
            architecture: self.architecture.clone(),
        }
    }

    /// An image with the host's static busybox at `/bin/busybox`, a
    /// symlink per applet, `/etc/passwd` and `/etc/group` with root and
    /// nobody, and `/tmp`. Fails unless Debian's busybox-static is installed.
    pub fn busybox() -> Result<ImageBuilder, BuildError> {
        let missing = || {
            BuildError::Missing("install Debian's busybox-static (a static /usr/bin/busybox or /bin/busybox is needed)".into())
        };
        let host = ["/usr/bin/busybox", "/bin/busybox"]
            .into_iter()
            .map(Path::new)
            .find(|p| p.exists())
            .ok_or_else(missing)?;
        let bytes = fs::read(host).map_err(|source| BuildError::Io {
            path: host.into(),
            source,
        })?;
        if !is_static_elf(&bytes) {
            return Err(missing());
        }
        let out = std::process::Command::new(host)
            .arg("--list-full")
            .output()
            .map_err(|source| BuildError::Io {
                path: host.into(),
                source,
            })?;
        let mut b = ImageBuilder::new()
            .mkdir("/bin", 0o755)
            .mkdir("/sbin", 0o755)
            .mkdir("/usr", 0o755)
            .mkdir("/usr/bin", 0o755)
            .mkdir("/usr/sbin", 0o755)
            .mkdir("/etc", 0o755)
            .mkdir("/root", 0o700)
            .mkdir("/tmp", 0o1777)
            .mkdir("/proc", 0o555)
            .mkdir("/sys", 0o555)
            .mkdir("/dev", 0o755)
            .mkdir("/var", 0o755)
            .add_bytes("/bin/busybox", &bytes, 0o755)
            .add_bytes(
                "/etc/passwd",
                b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
                0o644,
            )
            .add_bytes("/etc/group", b"root:x:0:\nnogroup:x:65534:\n", 0o644);
        for applet in String::from_utf8_lossy(&out.stdout).lines() {
            let applet = applet.trim().trim_start_matches('/');
            if applet.is_empty() || applet == "bin/busybox" {
                continue;
            }
            b = b.add_symlink(&format!("/{applet}"), "/bin/busybox");
        }
        Ok(b.cmd(["sh"]))
    }
}

/// Whether an ELF binary has no program interpreter (is static).
pub(crate) fn is_static_elf(b: &[u8]) -> bool {
    b.starts_with(b"\x7fELF")
        && b.get(4) == Some(&2)
        && b.get(5) == Some(&1)
        && b.len() > 0x40
        && !elf_has_segment(b, PT_INTERP)
}

/// The program header type of the interpreter's path.
const PT_INTERP: u32 = 3;
/// The program header type of the dynamic section (any shared object).
pub(crate) const PT_DYNAMIC: u32 = 2;

/// Whether a 64-bit little-endian ELF has a program header of `kind`
/// (`false` for anything else).
pub(crate) fn elf_has_segment(b: &[u8], kind: u32) -> bool {
    let u16_at = |o: usize| {
        b.get(o..o + 2)
            .map(|s| u16::from_le_bytes([s[0], s[1]]) as usize)
    };
    let u32_at = |o: usize| {
        b.get(o..o + 4)
            .map(|s| u32::from_le_bytes(s.try_into().unwrap()))
    };
    let u64_at = |o: usize| {
        b.get(o..o + 8)
            .map(|s| u64::from_le_bytes(s.try_into().unwrap()) as usize)
    };
    if !b.starts_with(b"\x7fELF") || b.get(4) != Some(&2) || b.get(5) != Some(&1) {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    (0..phnum).any(|i| u32_at(phoff + i * phentsize) == Some(kind))
}

/// A PAX extended header's records.
fn pax_records(records: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        let body = k.len() + v.len() + 3; // ' ', '=', '\n'
        let mut len = body + body.to_string().len();
        if len.to_string().len() != body.to_string().len() {
            len += 1;
        }
        out.extend_from_slice(format!("{len} {k}=").as_bytes());
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

fn header(kind: tar::EntryType, path: &str, mode: u32) -> io::Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_path_absolute(path.trim_start_matches('/'))?;
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h.set_size(0);
    Ok(h)
}

/// Appends a symbolic (`Symlink`) or hard (`Link`) link at `path` to
/// `target`.
fn append_link(
    b: &mut tar::Builder<Vec<u8>>,
    kind: tar::EntryType,
    path: &str,
    target: &str,
) -> io::Result<()> {
    let mut h = header(kind, path, 0o777)?;
    h.set_link_name_literal(target.as_bytes())?;
    h.set_cksum();
    b.append(&h, io::empty())
}

/// The uncompressed tar of a layer's entries.
pub(crate) fn layer_tar(entries: &[Entry]) -> io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            Entry::File {
                path,
                data,
                mode,
                uid,
                gid,
                mtime,
                xattrs,
            } => {
                let mut pax: Vec<(String, Vec<u8>)> = xattrs
                    .iter()
                    .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v.clone()))
                    .collect();
                if *uid > 0o7777777 {
                    pax.push(("uid".into(), uid.to_string().into_bytes()));
                }
                if *gid > 0o7777777 {
                    pax.push(("gid".into(), gid.to_string().into_bytes()));
                }
                if !pax.is_empty() {
                    let data = pax_records(&pax);
                    let mut h = header(tar::EntryType::XHeader, "PaxHeader", 0o644)?;
                    h.set_size(data.len() as u64);
                    h.set_cksum();
                    b.append(&h, data.as_slice())?;
                }
                let mut h = header(tar::EntryType::Regular, path, *mode)?;
                h.set_uid((*uid).min(0o7777777));
                h.set_gid((*gid).min(0o7777777));
                h.set_mtime(*mtime);
                h.set_size(data.len() as u64);
                h.set_cksum();
                b.append(&h, data.as_slice())?;
            }
            Entry::Dir {
                path,
                mode,
                uid,
                gid,
            } => {
                let mut h = header(tar::EntryType::Directory, path, *mode)?;
                h.set_uid(*uid);
                h.set_gid(*gid);
                h.set_cksum();
                b.append(&h, io::empty())?;
            }
            Entry::Symlink { path, target } => {
                append_link(&mut b, tar::EntryType::Symlink, path, target)?;
            }
            #[cfg(test)]
            Entry::HardLink { path, target } => {
                append_link(&mut b, tar::EntryType::Link, path, target)?;
            }
            #[cfg(test)]
            Entry::Char { path, major, minor } => {
                let mut h = header(tar::EntryType::Char, path, 0o666)?;
                h.set_device_major(*major)?;
                h.set_device_minor(*minor)?;
                h.set_cksum();
                b.append(&h, io::empty())?;
            }
            Entry::Fifo { path } => {
                let mut h = header(tar::EntryType::Fifo, path, 0o644)?;
                h.set_cksum();
                b.append(&h, io::empty())?;
            }
            Entry::Whiteout { path } => {
                let p = Path::new(path);
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let parent = p
                    .parent()
                    .map(|d| d.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let mut h = header(
                    tar::EntryType::Regular,
                    &format!("{parent}/.wh.{name}"),
                    0o644,
                )?;
                h.set_cksum();
                b.append(&h, io::empty())?;
            }
            Entry::Opaque { dir } => {
                let mut h = header(
                    tar::EntryType::Regular,
                    &format!("{}/.wh..wh..opq", dir.trim_end_matches('/')),
                    0o644,
                )?;
                h.set_cksum();
                b.append(&h, io::empty())?;
            }
            #[cfg(test)]
            Entry::Raw {
                kind,
                name,
                link,
                data,
                mode,
            } => {
                let mut h = tar::Header::new_ustar();
                h.set_entry_type(*kind);
                {
                    let old = h.as_old_mut();
                    let n = name.len().min(old.name.len());
                    old.name[..n].copy_from_slice(&name[..n]);
                    let l = link.len().min(old.linkname.len());
                    old.linkname[..l].copy_from_slice(&link[..l]);
                }
                h.set_mode(*mode);
                h.set_uid(0);
                h.set_gid(0);
                h.set_mtime(1_700_000_000);
                h.set_size(data.len() as u64);
                h.set_cksum();
                b.append(&h, data.as_slice())?;
            }
        }
    }
    b.into_inner()
}

/// Compresses bytes; fast levels, the tests want speed.
pub fn compress(data: &[u8], c: Compression) -> Vec<u8> {
    match c {
        Compression::None => data.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).expect("memory");
            e.finish().expect("memory")
        }
        Compression::Zstd => zstd::bulk::compress(data, 1).expect("memory"),
    }
}

/// What to write into an archive or layout.
#[derive(Clone, Copy, Debug)]
pub enum Content<'a> {
    /// One single-platform image: its manifest is what the name points at.
    Image(&'a BuiltImage),
    /// A multi-platform index: the name points at the index.
    Index(&'a BuiltIndex),
}

/// An image or index with its names (`busybox:1.36`, normalized or not).
#[derive(Clone, Debug)]
pub struct Tagged<'a> {
    /// What the names point at.
    pub content: Content<'a>,
    /// The names, as `repo:tag` references.
    pub names: Vec<String>,
}

impl<'a> Tagged<'a> {
    /// `image` under the one name `name`.
    pub fn one(image: &'a BuiltImage, name: &str) -> Tagged<'a> {
        Tagged {
            content: Content::Image(image),
            names: vec![name.to_string()],
        }
    }

    /// `index` under the one name `name`.
    #[cfg(test)]
    pub(crate) fn index(index: &'a BuiltIndex, name: &str) -> Tagged<'a> {
        Tagged {
            content: Content::Index(index),
            names: vec![name.to_string()],
        }
    }
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// An OCI image layout directory (`path` is the directory).
    OciLayout,
    /// A tar of an OCI image layout.
    OciArchive,
    /// `docker save` as before Docker 25: `manifest.json`, `<id>/layer.tar`.
    DockerArchive,
    /// `docker save` since Docker 25: `manifest.json` beside an OCI layout.
    DockerOciArchive,
}

/// The files of an archive or layout, in the order they are written.
fn files_of(format: Format, items: &[Tagged<'_>]) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut blob = |files: &mut Vec<(String, Vec<u8>)>, b: &Blob| {
        if seen.insert(b.digest.clone()) {
            let hex = b.digest.trim_start_matches("sha256:");
            files.push((format!("blobs/sha256/{hex}"), b.bytes.clone()));
        }
    };
    if format == Format::DockerArchive {
        let mut manifest = Vec::new();
        for t in items {
            let Content::Image(img) = t.content else {
                panic!("a legacy docker-save archive holds single-platform images only");
            };
            let mut layer_paths = Vec::new();
            for (l, diff) in img.layers.iter().zip(&img.diff_ids) {
                let dir = diff.trim_start_matches("sha256:").to_string();
                let p = format!("{dir}/layer.tar");
                if !files.iter().any(|(n, _)| n == &p) {
                    files.push((format!("{dir}/VERSION"), b"1.0".to_vec()));
                    files.push((p.clone(), l.bytes.clone()));
                }
                layer_paths.push(p);
            }
            let cfg = format!("{}.json", img.config.digest.trim_start_matches("sha256:"));
            files.push((cfg.clone(), img.config.bytes.clone()));
            manifest.push(json!({"Config": cfg, "RepoTags": t.names, "Layers": layer_paths}));
        }
        files.push((
            "manifest.json".into(),
            serde_json::to_vec(&manifest).expect("json"),
        ));
        return files;
    }
    let mut index_entries = Vec::new();
    let mut docker_manifest = Vec::new();
    for t in items {
        let (top, images): (&Blob, Vec<&BuiltImage>) = match t.content {
            Content::Image(i) => (&i.manifest, vec![i]),
            Content::Index(ix) => (&ix.index, ix.images.iter().collect()),
        };
        for img in &images {
            for l in &img.layers {
                blob(&mut files, l);
            }
            blob(&mut files, &img.config);
            blob(&mut files, &img.manifest);
        }
        blob(&mut files, top);
        for name in &t.names {
            let mut d = top.descriptor();
            let full = ordinal_core::image_reference::Reference::parse(name)
                .map(|r| r.to_string())
                .unwrap_or_else(|_| name.clone());
            d["annotations"] = json!({
                "io.containerd.image.name": full,
                "org.opencontainers.image.ref.name": name.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest"),
            });
            index_entries.push(d);
        }
        if t.names.is_empty() {
            index_entries.push(top.descriptor());
        }
        if format == Format::DockerOciArchive
            && let Some(img) = images.first()
        {
            docker_manifest.push(json!({
                "Config": format!("blobs/sha256/{}", img.config.digest.trim_start_matches("sha256:")),
                "RepoTags": t.names,
                "Layers": img.layers.iter().map(|l| format!("blobs/sha256/{}", l.digest.trim_start_matches("sha256:"))).collect::<Vec<_>>(),
            }));
        }
    }
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index_entries});
    files.push((
        "oci-layout".into(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    ));
    files.push((
        "index.json".into(),
        serde_json::to_vec(&index).expect("json"),
    ));
    if format == Format::DockerOciArchive {
        files.push((
            "manifest.json".into(),
            serde_json::to_vec(&docker_manifest).expect("json"),
        ));
    }
    files
}

/// Writes images in `format` at `path`; archives compressed as a whole
/// with `compression` (ignored for a layout directory).
pub fn write(
    path: &Path,
    format: Format,
    compression: Compression,
    items: &[Tagged<'_>],
) -> io::Result<()> {
    let files = files_of(format, items);
    if format == Format::OciLayout {
        for (name, bytes) in files {
            let p = path.join(name);
            fs::create_dir_all(p.parent().expect("a parent"))?;
            fs::write(p, bytes)?;
        }
        return Ok(());
    }
    let mut tar = tar::Builder::new(Vec::new());
    let mut dirs = std::collections::BTreeSet::new();
    for (name, bytes) in &files {
        let mut parent = Path::new(name).parent();
        let mut missing = Vec::new();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            if dirs.insert(p.to_path_buf()) {
                missing.push(p.to_path_buf());
            }
            parent = p.parent();
        }
        for d in missing.into_iter().rev() {
            let mut h = header(
                tar::EntryType::Directory,
                &format!("{}/", d.display()),
                0o755,
            )?;
            h.set_cksum();
            tar.append(&h, io::empty())?;
        }
        let mut h = header(tar::EntryType::Regular, name, 0o644)?;
        h.set_size(bytes.len() as u64);
        h.set_cksum();
        tar.append(&h, bytes.as_slice())?;
    }
    let data = tar.into_inner()?;
    fs::write(path, compress(&data, compression))
}

/// The digest of a blob's bytes (re-exported for tests).
pub fn blob_digest(bytes: &[u8]) -> String {
    digest::sha256(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ordinal_core::image_reference::Reference;

    use crate::{ImageStore, NoProgress};

    #[test]
    fn busybox_image_has_the_static_binary_applets_and_users() {
        let b = ImageBuilder::busybox().expect("install Debian's busybox-static");
        let img = b.build();
        let tmp = tempfile::tempdir().unwrap();
        let archive = tmp.path().join("busybox.tar");
        write(
            &archive,
            Format::OciArchive,
            Compression::Zstd,
            &[Tagged::one(&img, "busybox:test")],
        )
        .unwrap();
        let s = ImageStore::open(&tmp.path().join("store")).unwrap();
        s.import(&archive, &NoProgress).unwrap();
        let got = s.get(&Reference::parse("busybox:test").unwrap()).unwrap();
        let root = &s.layer_dirs(&got).unwrap()[0];
        assert!(is_static_elf(&fs::read(root.join("bin/busybox")).unwrap()));
        assert_eq!(
            fs::read_link(root.join("bin/sh")).unwrap(),
            Path::new("/bin/busybox")
        );
        let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap();
        assert!(passwd.starts_with("root:x:0:0:") && passwd.contains("nobody:x:65534:"));
        assert_eq!(
            fs::metadata(root.join("tmp")).unwrap().mode() & 0o7777,
            0o1777
        );
        assert_eq!(got.config.cmd, Some(vec!["sh".to_string()]));
        // The applet really runs from the image's copy.
        let out = std::process::Command::new(root.join("bin/busybox"))
            .arg("true")
            .status()
            .unwrap();
        assert!(out.success());
    }

    #[test]
    fn dynamic_binaries_are_not_static() {
        assert!(!is_static_elf(&fs::read("/bin/ls").unwrap()));
        assert!(!is_static_elf(b"not an elf"));
    }
}
