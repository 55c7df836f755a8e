//! `ordinal image import FILE`: images from docker-save archives (legacy
//! and Docker 25's with an embedded OCI layout), OCI image layout
//! directories and OCI archives, each plain, gzip or zstd as a whole.
//!
//! An archive is read once, as a stream: JSON members (manifests,
//! configs, indexes) are kept in memory, anything that looks like a layer
//! is unpacked into the work directory while it streams by, with its
//! digests computed on the way — an archive may list its layers before
//! the manifest that says what they are. Then every image is resolved and
//! verified (compressed digests against manifests, diff_ids against
//! configs) before anything is stored, so a corrupt or truncated archive
//! stores nothing.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use oci_spec::image::{ImageIndex, ImageManifest};
use serde::Deserialize;

use crate::compression;
use crate::config::{self, ParsedConfig};
use crate::digest::{sha256, sha256_hex};
use crate::progress::{Progress, ProgressEvent};
use crate::store::{Image, ImageStore, NewImage, StagedLayer, StoreError};
use crate::unpack::{self, UnpackError};
use ordinal_core::image_reference::Reference;

/// JSON members larger than this are not image metadata.
const MAX_JSON: u64 = 16 << 20;
/// All the metadata of one archive together: a hostile archive of many
/// JSON-looking members must not fill memory.
const MAX_JSON_TOTAL: usize = 64 << 20;

/// An import that failed; nothing of it was stored.
#[derive(Debug, thiserror::Error)]
#[error("importing {}: {kind}", file.display())]
pub struct ImportError {
    pub(crate) file: PathBuf,
    pub(crate) kind: ImportErrorKind,
}

/// What was wrong.
#[derive(Debug, thiserror::Error)]
pub enum ImportErrorKind {
    #[error("reading the archive: {0} (truncated or corrupt?)")]
    Read(#[source] io::Error),
    #[error("layer {name}: {source}")]
    Layer {
        name: String,
        #[source]
        source: UnpackError,
    },
    #[error("{0}")]
    Format(String),
    #[error("{what} has digest {actual}, expected {expected}")]
    Digest {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("no image for {platform} in the index (it has {available})")]
    NoPlatform { platform: String, available: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A layer member: staged here, or already in the store.
enum LayerSource {
    Staged(StagedLayer, u64),
    Stored { diff_id: String, size: u64 },
}

/// What reading an archive or layout collected.
#[derive(Default)]
struct Collected {
    json: HashMap<String, Vec<u8>>,
    layers: HashMap<String, LayerSource>,
}

impl Collected {
    fn json(&self, path: &str) -> Result<&[u8], ImportErrorKind> {
        self.json
            .get(path)
            .map(Vec::as_slice)
            .ok_or_else(|| ImportErrorKind::Format(format!("{path} is missing from the archive")))
    }

    /// A blob by digest, checked against its digest.
    fn blob(&self, digest: &str) -> Result<&[u8], ImportErrorKind> {
        let hex = sha256_hex(digest)
            .ok_or_else(|| ImportErrorKind::Format(format!("unsupported digest {digest:?}")))?;
        let bytes = self.json(&format!("blobs/sha256/{hex}"))?;
        let actual = sha256(bytes);
        if actual != digest {
            return Err(ImportErrorKind::Digest {
                what: format!("blob {digest}"),
                expected: digest.into(),
                actual,
            });
        }
        Ok(bytes)
    }
}

impl Drop for Collected {
    fn drop(&mut self) {
        for (_, l) in self.layers.drain() {
            if let LayerSource::Staged(s, _) = l {
                let _ = crate::unpack::confined::remove_tree(&s.dir);
            }
        }
    }
}

/// An image resolved from the archive, ready to store.
struct Resolved {
    new: NewImage,
    /// Archive paths of its layers, lowest first.
    layer_paths: Vec<String>,
}

impl ImageStore {
    /// Imports every image in `file` (archive or layout directory).
    pub fn import(&self, file: &Path, progress: &dyn Progress) -> Result<Vec<Image>, ImportError> {
        let wrap = |kind| ImportError {
            file: file.to_path_buf(),
            kind,
        };
        let mut collected = if file.is_dir() {
            self.collect_layout(file, progress).map_err(wrap)?
        } else {
            self.collect_archive(file, progress).map_err(wrap)?
        };
        let resolved = resolve(&collected).map_err(wrap)?;
        self.store_resolved(&mut collected, resolved, progress)
            .map_err(wrap)
    }

    fn store_resolved(
        &self,
        collected: &mut Collected,
        resolved: Vec<Resolved>,
        progress: &dyn Progress,
    ) -> Result<Vec<Image>, ImportErrorKind> {
        let mut out = Vec::new();
        for r in resolved {
            for p in &r.layer_paths {
                if let Some(LayerSource::Staged(..)) = collected.layers.get(p) {
                    let Some(LayerSource::Staged(staged, size)) = collected.layers.remove(p) else {
                        unreachable!()
                    };
                    let diff_id = staged.unpacked.diff_id.clone();
                    self.commit_layer(staged)?;
                    collected
                        .layers
                        .insert(p.clone(), LayerSource::Stored { diff_id, size });
                }
            }
            let image = self.commit_image(r.new)?;
            progress.update(ProgressEvent::ImageStored {
                id: image.id.clone(),
                names: image.repo_tags.clone(),
            });
            out.push(image);
        }
        Ok(out)
    }

    fn collect_archive(
        &self,
        file: &Path,
        progress: &dyn Progress,
    ) -> Result<Collected, ImportErrorKind> {
        let f = File::open(file).map_err(ImportErrorKind::Read)?;
        let (_, reader) = compression::decompress(f).map_err(ImportErrorKind::Read)?;
        let mut archive = tar::Archive::new(reader);
        let mut c = Collected::default();
        let mut members = 0usize;
        let mut json_total = 0usize;
        for entry in archive.entries().map_err(ImportErrorKind::Read)? {
            let mut entry = entry.map_err(ImportErrorKind::Read)?;
            members += 1;
            if !matches!(
                entry.header().entry_type(),
                tar::EntryType::Regular | tar::EntryType::Continuous
            ) {
                continue;
            }
            let name = member_name(&entry.path().map_err(ImportErrorKind::Read)?);
            let size = entry.size();
            let mut head = Vec::with_capacity(512);
            (&mut entry)
                .take(512)
                .read_to_end(&mut head)
                .map_err(ImportErrorKind::Read)?;
            if looks_like_layer(&head) {
                let src = self.layer_member(
                    &name,
                    size,
                    io::Cursor::new(head).chain(&mut entry),
                    progress,
                )?;
                c.layers.insert(name, src);
            } else if size <= MAX_JSON {
                json_total += size as usize;
                if json_total > MAX_JSON_TOTAL {
                    return Err(ImportErrorKind::Format(format!(
                        "more than {} MiB of metadata: not an image archive",
                        MAX_JSON_TOTAL >> 20
                    )));
                }
                let mut bytes = head;
                entry
                    .read_to_end(&mut bytes)
                    .map_err(ImportErrorKind::Read)?;
                c.json.insert(name, bytes);
            } else {
                io::copy(&mut entry, &mut io::sink()).map_err(ImportErrorKind::Read)?;
            }
        }
        if members == 0 {
            return Err(ImportErrorKind::Format(
                "empty archive: not an image archive".into(),
            ));
        }
        Ok(c)
    }

    /// Unpacks (or recognizes as stored) one layer member.
    fn layer_member(
        &self,
        name: &str,
        size: u64,
        reader: impl Read,
        progress: &dyn Progress,
    ) -> Result<LayerSource, ImportErrorKind> {
        let named_digest = name
            .strip_prefix("blobs/sha256/")
            .filter(|h| sha256_hex(&format!("sha256:{h}")).is_some())
            .map(|h| format!("sha256:{h}"));
        if let Some(d) = &named_digest
            && let Some(l) = self.layer_by_compressed(d)
        {
            progress.update(ProgressEvent::LayerExists { digest: d.clone() });
            return Ok(LayerSource::Stored {
                diff_id: l.diff_id,
                size,
            });
        }
        let label = named_digest.clone().unwrap_or_else(|| name.to_string());
        progress.update(ProgressEvent::LayerStarted {
            digest: label.clone(),
            size: Some(size),
        });
        let dir = self.stage_dir()?;
        let unpacked = match unpack::unpack(reader, &dir) {
            Ok(u) => u,
            Err(source) => {
                let _ = crate::unpack::confined::remove_tree(&dir);
                return Err(ImportErrorKind::Layer {
                    name: name.to_string(),
                    source,
                });
            }
        };
        let staged = StagedLayer { dir, unpacked };
        if let Some(d) = named_digest
            && staged.unpacked.compressed_digest != d
        {
            let actual = staged.unpacked.compressed_digest.clone();
            let _ = crate::unpack::confined::remove_tree(&staged.dir);
            return Err(ImportErrorKind::Digest {
                what: format!("layer {name}"),
                expected: d,
                actual,
            });
        }
        progress.update(ProgressEvent::LayerDone { digest: label });
        Ok(LayerSource::Staged(staged, size))
    }

    /// An OCI layout directory: read what the index leads to.
    fn collect_layout(
        &self,
        dir: &Path,
        progress: &dyn Progress,
    ) -> Result<Collected, ImportErrorKind> {
        let mut c = Collected::default();
        let read = |rel: &str| fs::read(dir.join(rel)).map_err(ImportErrorKind::Read);
        c.json.insert("oci-layout".into(), read("oci-layout")?);
        let index_bytes = read("index.json")?;
        let index: ImageIndex = serde_json::from_slice(&index_bytes)
            .map_err(|e| ImportErrorKind::Format(format!("index.json: {e}")))?;
        c.json.insert("index.json".into(), index_bytes);
        let mut pending: Vec<String> = index
            .manifests()
            .iter()
            .map(|d| d.digest().to_string())
            .collect();
        while let Some(digest) = pending.pop() {
            let Some(hex) = sha256_hex(&digest) else {
                return Err(ImportErrorKind::Format(format!(
                    "unsupported digest {digest:?}"
                )));
            };
            let rel = format!("blobs/sha256/{hex}");
            if c.json.contains_key(&rel) || c.layers.contains_key(&rel) {
                continue;
            }
            let bytes = read(&rel)?;
            let v: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| ImportErrorKind::Format(format!("{rel}: {e}")))?;
            if let Some(ms) = v.get("manifests").and_then(|m| m.as_array()) {
                pending.extend(
                    ms.iter()
                        .filter_map(|m| m["digest"].as_str().map(str::to_string)),
                );
            } else if v.get("layers").is_some() {
                if let Some(cfg) = v["config"]["digest"].as_str() {
                    let h = sha256_hex(cfg).ok_or_else(|| {
                        ImportErrorKind::Format(format!("bad config digest {cfg:?}"))
                    })?;
                    let cfg_rel = format!("blobs/sha256/{h}");
                    c.json.insert(cfg_rel.clone(), read(&cfg_rel)?);
                }
                let layers = v["layers"].as_array().cloned().unwrap_or_default();
                for l in layers {
                    let d = l["digest"].as_str().unwrap_or_default();
                    let h = sha256_hex(d).ok_or_else(|| {
                        ImportErrorKind::Format(format!("bad layer digest {d:?}"))
                    })?;
                    let lrel = format!("blobs/sha256/{h}");
                    if c.layers.contains_key(&lrel) {
                        continue;
                    }
                    let f = File::open(dir.join(&lrel)).map_err(ImportErrorKind::Read)?;
                    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
                    let src = self.layer_member(&lrel, size, f, progress)?;
                    c.layers.insert(lrel, src);
                }
            }
            c.json.insert(rel, bytes);
        }
        Ok(c)
    }
}

/// The member's path without `./` or `/` in front.
fn member_name(p: &Path) -> String {
    let s = p.to_string_lossy();
    s.trim_start_matches("./")
        .trim_start_matches('/')
        .to_string()
}

/// A member is a layer when it is compressed or a tar (ustar magic, or
/// an empty tar's zero block).
fn looks_like_layer(head: &[u8]) -> bool {
    compression::Compression::detect(head) != compression::Compression::None
        || (head.len() >= 512 && (&head[257..262] == b"ustar" || head.iter().all(|&b| b == 0)))
}

/// Works out every image the archive holds and checks it.
fn resolve(c: &Collected) -> Result<Vec<Resolved>, ImportErrorKind> {
    let docker = c.json.contains_key("manifest.json");
    let oci = c.json.contains_key("index.json") && c.json.contains_key("oci-layout");
    if docker && oci {
        // Docker 25 and later: an OCI layout (with repo digests) beside
        // manifest.json; the latter's RepoTags name what the index does not.
        match resolve_oci(c) {
            Ok(mut images) => {
                let tags = resolve_docker(c)?;
                for img in &mut images {
                    if img.new.repo_tags.is_empty()
                        && let Some(d) = tags
                            .iter()
                            .find(|d| d.new.config_digest == img.new.config_digest)
                    {
                        img.new.repo_tags = d.new.repo_tags.clone();
                    }
                }
                Ok(images)
            }
            Err(e) => {
                tracing::debug!(error = %e, "the OCI layout of a docker-save archive is unusable; using manifest.json");
                resolve_docker(c)
            }
        }
    } else if docker {
        resolve_docker(c)
    } else if c.json.contains_key("index.json") {
        resolve_oci(c)
    } else {
        Err(ImportErrorKind::Format(
            "neither manifest.json (docker save) nor index.json (OCI layout) found: not an image archive".into(),
        ))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerItem {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn normalize_names(names: &[String]) -> Result<Vec<String>, ImportErrorKind> {
    names
        .iter()
        .filter_map(|n| match Reference::parse(n) {
            // Digest-only names are repo digests, not tags.
            Ok(r) => r.tagged_name().map(Ok),
            Err(e) => Some(Err(ImportErrorKind::Format(format!(
                "image name {n:?}: {}",
                e.reason()
            )))),
        })
        .collect()
}

fn resolve_docker(c: &Collected) -> Result<Vec<Resolved>, ImportErrorKind> {
    let items: Vec<DockerItem> = serde_json::from_slice(c.json("manifest.json")?)
        .map_err(|e| ImportErrorKind::Format(format!("manifest.json: {e}")))?;
    let mut out = Vec::new();
    for item in items {
        let config_name = item.config.trim_start_matches("./").to_string();
        let config_bytes = c.json(&config_name)?.to_vec();
        let config_digest = sha256(&config_bytes);
        let parsed = config::parse(&config_bytes)
            .map_err(|e| ImportErrorKind::Format(format!("{config_name}: {e}")))?;
        let layer_paths: Vec<String> = item
            .layers
            .iter()
            .map(|l| l.trim_start_matches("./").to_string())
            .collect();
        let sizes = check_layers(c, &layer_paths, &parsed)?;
        out.push(Resolved {
            new: NewImage {
                size: sizes + config_bytes.len() as u64,
                config_bytes,
                config_digest,
                parsed,
                blobs: Vec::new(),
                repo_tags: normalize_names(&item.repo_tags.unwrap_or_default())?,
                repo_digests: Vec::new(),
            },
            layer_paths,
        });
    }
    Ok(out)
}

/// Checks that the layers at `paths` have the config's diff_ids; returns
/// their total (compressed) size.
fn check_layers(
    c: &Collected,
    paths: &[String],
    parsed: &ParsedConfig,
) -> Result<u64, ImportErrorKind> {
    if paths.len() != parsed.diff_ids.len() {
        return Err(ImportErrorKind::Format(format!(
            "{} layers listed, the config has {} diff_ids",
            paths.len(),
            parsed.diff_ids.len()
        )));
    }
    let mut total = 0;
    for (p, want) in paths.iter().zip(&parsed.diff_ids) {
        let (have, size) = match c.layers.get(p) {
            Some(LayerSource::Staged(s, size)) => (&s.unpacked.diff_id, *size),
            Some(LayerSource::Stored { diff_id, size }) => (diff_id, *size),
            None => {
                return Err(ImportErrorKind::Format(format!(
                    "layer {p} is missing from the archive"
                )));
            }
        };
        if have != want {
            return Err(ImportErrorKind::Digest {
                what: format!("layer {p} (uncompressed)"),
                expected: want.clone(),
                actual: have.clone(),
            });
        }
        total += size;
    }
    Ok(total)
}

fn resolve_oci(c: &Collected) -> Result<Vec<Resolved>, ImportErrorKind> {
    let index: ImageIndex = serde_json::from_slice(c.json("index.json")?)
        .map_err(|e| ImportErrorKind::Format(format!("index.json: {e}")))?;
    let mut out = Vec::new();
    for desc in index.manifests() {
        let digest = desc.digest().to_string();
        let names = names_of(desc.annotations().as_ref())?;
        let bytes = c.blob(&digest)?;
        let (manifest_digest, manifest, index_digest) = match manifest_or_index(bytes, &digest)? {
            Either::Manifest(m) => (digest.clone(), m, None),
            Either::Index(ix) => {
                let chosen =
                    crate::platform::select(&ix).ok_or_else(|| ImportErrorKind::NoPlatform {
                        platform: crate::platform::current(),
                        available: platforms_of(&ix),
                    })?;
                let d = chosen.digest().to_string();
                match manifest_or_index(c.blob(&d)?, &d)? {
                    Either::Manifest(m) => (d, m, Some(digest.clone())),
                    Either::Index(_) => {
                        return Err(ImportErrorKind::Format(format!("{d}: nested index")));
                    }
                }
            }
        };
        let config_digest = manifest.config().digest().to_string();
        let config_bytes = c.blob(&config_digest)?.to_vec();
        let parsed = config::parse(&config_bytes)
            .map_err(|e| ImportErrorKind::Format(format!("config {config_digest}: {e}")))?;
        let layer_paths: Vec<String> = manifest
            .layers()
            .iter()
            .map(|l| {
                format!(
                    "blobs/sha256/{}",
                    sha256_hex(l.digest().as_ref()).unwrap_or("invalid")
                )
            })
            .collect();
        check_layers(c, &layer_paths, &parsed)?;
        let size =
            manifest.layers().iter().map(|l| l.size()).sum::<u64>() + config_bytes.len() as u64;
        let top = index_digest
            .clone()
            .unwrap_or_else(|| manifest_digest.clone());
        let repo_digests = names
            .iter()
            .filter_map(|n| Reference::parse(n).ok())
            .map(|r| format!("{}@{top}", r.name()))
            .collect();
        let mut blobs = vec![(manifest_digest.clone(), c.blob(&manifest_digest)?.to_vec())];
        if let Some(ix) = &index_digest {
            blobs.push((ix.clone(), c.blob(ix)?.to_vec()));
        }
        out.push(Resolved {
            new: NewImage {
                config_bytes,
                config_digest,
                parsed,
                blobs,
                repo_tags: normalize_names(&names)?,
                repo_digests,
                size,
            },
            layer_paths,
        });
    }
    if out.is_empty() {
        return Err(ImportErrorKind::Format("index.json lists no images".into()));
    }
    Ok(out)
}

/// Names from an index entry's annotations: containerd's full name, or
/// the OCI ref name when it is a full reference (a bare tag names nothing
/// without a repository).
fn names_of(ann: Option<&HashMap<String, String>>) -> Result<Vec<String>, ImportErrorKind> {
    let Some(ann) = ann else {
        return Ok(Vec::new());
    };
    if let Some(full) = ann.get("io.containerd.image.name") {
        return Ok(vec![full.clone()]);
    }
    match ann.get("org.opencontainers.image.ref.name") {
        Some(r) if r.contains('/') || r.contains(':') || r.contains('@') => Ok(vec![r.clone()]),
        _ => Ok(Vec::new()),
    }
}

pub(crate) enum Either {
    Manifest(Box<ImageManifest>),
    Index(Box<ImageIndex>),
}

/// Parses a manifest or an index (OCI or Docker media types alike).
pub(crate) fn manifest_or_index(bytes: &[u8], what: &str) -> Result<Either, ImportErrorKind> {
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ImportErrorKind::Format(format!("{what}: {e}")))?;
    if v.get("manifests").is_some() {
        serde_json::from_value(v)
            .map(|i| Either::Index(Box::new(i)))
            .map_err(|e| ImportErrorKind::Format(format!("index {what}: {e}")))
    } else {
        serde_json::from_value(v)
            .map(|m| Either::Manifest(Box::new(m)))
            .map_err(|e| ImportErrorKind::Format(format!("manifest {what}: {e}")))
    }
}

pub(crate) fn platforms_of(ix: &ImageIndex) -> String {
    let v: Vec<String> = ix
        .manifests()
        .iter()
        .filter_map(|d| d.platform().as_ref())
        .map(|p| format!("{}/{}", p.os(), p.architecture()))
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests;
