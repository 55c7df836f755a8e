//! Pulling over the OCI distribution protocol with `oci-client`: resolve
//! the reference (mirrors first, then the registry; pull-secret
//! credentials, then the host's configured ones, then anonymous), pick
//! this machine's platform from an index, fetch the config, and stream
//! each layer straight into the unpacker (at most three at a time) —
//! nothing is held whole in memory or kept compressed on disk. Digests
//! are checked while streaming; a layer that fails leaves nothing behind.
//!
//! Within a process, concurrent pulls of one reference, or of one layer,
//! happen once: the others wait and then find it stored.

use std::io::{self, Read};
use std::sync::{Arc, Once};

use bytes::Bytes;
use futures::StreamExt;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_spec::image::{Descriptor, ImageManifest};

use crate::auth::Credentials;
use crate::config;
use crate::import::{Either, manifest_or_index, platforms_of};
use crate::progress::{Progress, ProgressEvent};
use crate::registries::{Endpoint, RegistriesConfig};
use crate::store::{Image, ImageStore, NewImage, StagedLayer};
use crate::unpack;
use ordinal_core::image_reference::Reference;

/// How to pull.
#[derive(Clone, Debug, Default)]
pub struct PullOptions {
    /// Tried in order on the image's own registry, then the registry's
    /// configured credentials, then anonymous access.
    pub credentials: Vec<Credentials>,
    /// Mirrors and per-host credentials and TLS (`registries.yaml`).
    pub registries: Arc<RegistriesConfig>,
}

/// The largest image config accepted (whatever the registry says).
const MAX_CONFIG: u64 = 16 << 20;

/// Layers downloading at once per pull.
const CONCURRENT_LAYERS: usize = 3;

/// What went wrong, for the node to tell `ErrImagePull` causes apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PullErrorKind {
    NotFound,
    Unauthorized,
    Network,
    Digest,
    Disk,
    /// The registry sent something that is not a usable image.
    Invalid,
}

/// A failed pull. `Display` is what the kubelet's `Failed` event shows:
/// `failed to pull and unpack image "<ref>": <cause>`.
#[derive(Debug, thiserror::Error)]
#[error("failed to pull and unpack image \"{image}\": {message}")]
pub struct PullError {
    pub(crate) kind: PullErrorKind,
    pub(crate) image: String,
    pub(crate) message: String,
}

impl PullError {
    fn new(kind: PullErrorKind, r: &Reference, message: impl Into<String>) -> PullError {
        PullError {
            kind,
            image: r.to_string(),
            message: message.into(),
        }
    }
}

/// An error's message with its causes, as Go's wrapped errors print.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = c.source();
    }
    s
}

/// Classifies a registry error and words it as containerd does.
fn describe(e: &OciDistributionError, what: &str) -> (PullErrorKind, String) {
    use OciDistributionError as E;
    match e {
        E::UnauthorizedError { url } => (
            PullErrorKind::Unauthorized,
            format!("unexpected status from GET request to {url}: 401 Unauthorized"),
        ),
        E::AuthenticationFailure(msg) => (
            PullErrorKind::Unauthorized,
            format!("failed to authorize: 401 Unauthorized: {}", msg.trim()),
        ),
        E::RegistryError { envelope, url } => {
            let not_found = envelope.errors.iter().any(|er| {
                matches!(
                    er.code,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                )
            });
            let denied = envelope
                .errors
                .iter()
                .any(|er| matches!(er.code, OciErrorCode::Unauthorized | OciErrorCode::Denied));
            let messages: Vec<String> = envelope
                .errors
                .iter()
                .map(|er| er.message.clone())
                .collect();
            if not_found {
                (PullErrorKind::NotFound, format!("{what}: not found"))
            } else if denied {
                (
                    PullErrorKind::Unauthorized,
                    format!(
                        "unexpected status from GET request to {url}: 401 Unauthorized: {}",
                        messages.join("; ")
                    ),
                )
            } else {
                (
                    PullErrorKind::Invalid,
                    format!("{url}: {}", messages.join("; ")),
                )
            }
        }
        E::ServerError { code: 404, .. } => (PullErrorKind::NotFound, format!("{what}: not found")),
        E::ServerError { code, url, message } => (
            if *code == 401 || *code == 403 {
                PullErrorKind::Unauthorized
            } else {
                PullErrorKind::Network
            },
            format!(
                "unexpected status from GET request to {url}: {code}: {}",
                message.trim()
            ),
        ),
        E::DigestError(_) => (PullErrorKind::Digest, chain(e)),
        E::RequestError(_) | E::IoError(_) => (
            PullErrorKind::Network,
            format!("failed to do request: {}", chain(e)),
        ),
        _ => (PullErrorKind::Invalid, chain(e)),
    }
}

/// Makes `ring` rustls's process-wide provider unless one is installed.
pub(crate) fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    });
}

/// A client for one endpoint with one way to authenticate.
struct Session {
    client: oci_client::Client,
    reference: oci_client::Reference,
    auth: RegistryAuth,
}

fn client_for(e: &Endpoint) -> oci_client::Client {
    let config = ClientConfig {
        protocol: if e.plain_http {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        accept_invalid_certificates: e.insecure_skip_verify,
        extra_root_certificates: e
            .ca_pem
            .iter()
            .map(|pem| Certificate {
                encoding: CertificateEncoding::Pem,
                data: pem.clone(),
            })
            .collect(),
        platform_resolver: None,
        connect_timeout: Some(std::time::Duration::from_secs(10)),
        read_timeout: Some(std::time::Duration::from_secs(60)),
        user_agent: "ordinal",
        ..Default::default()
    };
    oci_client::Client::new(config)
}

fn oci_reference(host: &str, r: &Reference) -> oci_client::Reference {
    match (r.digest(), r.tag()) {
        (Some(d), _) => {
            oci_client::Reference::with_digest(host.into(), r.repository().into(), d.into())
        }
        (None, t) => oci_client::Reference::with_tag(
            host.into(),
            r.repository().into(),
            t.unwrap_or("latest").into(),
        ),
    }
}

const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// A resolved manifest: the session that got it, its bytes and digest.
struct Resolved {
    session: Session,
    bytes: Bytes,
    digest: String,
}

/// Tries each endpoint and each way to authenticate until one returns
/// the manifest; the error of the last endpoint otherwise.
async fn resolve(r: &Reference, options: &PullOptions) -> Result<Resolved, PullError> {
    let endpoints = options
        .registries
        .endpoints(r.registry())
        .map_err(|m| PullError::new(PullErrorKind::Invalid, r, m))?;
    let what = r.to_string();
    let mut last = None;
    for e in &endpoints {
        let mut auths: Vec<RegistryAuth> = Vec::new();
        if e.origin {
            auths.extend(
                options
                    .credentials
                    .iter()
                    .map(|c| RegistryAuth::Basic(c.username.clone(), c.password.clone())),
            );
        }
        if let Some(c) = &e.credentials {
            auths.push(RegistryAuth::Basic(c.username.clone(), c.password.clone()));
        }
        auths.push(RegistryAuth::Anonymous);
        for auth in auths {
            let session = Session {
                client: client_for(e),
                reference: oci_reference(&e.host, r),
                auth,
            };
            match session
                .client
                .pull_manifest_raw(&session.reference, &session.auth, MANIFEST_TYPES)
                .await
            {
                Ok((bytes, digest)) => {
                    return Ok(Resolved {
                        session,
                        bytes,
                        digest,
                    });
                }
                Err(err) => {
                    let (kind, msg) = describe(&err, &what);
                    tracing::debug!(endpoint = %e.host, error = %msg, "resolving failed");
                    last = Some((kind, msg));
                    if kind != PullErrorKind::Unauthorized {
                        break; // other credentials would not help here
                    }
                }
            }
        }
    }
    let (kind, msg) = last.unwrap_or((PullErrorKind::NotFound, format!("{what}: not found")));
    Err(PullError::new(
        kind,
        r,
        format!("failed to resolve reference \"{what}\": {msg}"),
    ))
}

impl ImageStore {
    /// Pulls `r` into the store and returns the stored image.
    pub async fn pull(
        &self,
        r: &Reference,
        options: &PullOptions,
        progress: &dyn Progress,
    ) -> Result<Image, PullError> {
        install_crypto_provider();
        let _flight = self.flights().enter(&format!("ref:{r}")).await;
        if r.digest().is_some()
            && let Some(img) = self.get(r)
        {
            return Ok(img);
        }
        let resolved = resolve(r, options).await?;
        let top_digest = resolved.digest.clone();
        let mut blobs = vec![(resolved.digest.clone(), resolved.bytes.to_vec())];
        let what = r.to_string();
        let invalid = |m: String| PullError::new(PullErrorKind::Invalid, r, m);
        let session = resolved.session;
        let manifest = match manifest_or_index(&resolved.bytes, &resolved.digest)
            .map_err(|e| invalid(e.to_string()))?
        {
            Either::Manifest(m) => *m,
            Either::Index(ix) => {
                let chosen = crate::platform::select(&ix).ok_or_else(|| {
                    PullError::new(
                        PullErrorKind::NotFound,
                        r,
                        format!(
                            "no match for platform {} in manifest {} (it has {}): not found",
                            crate::platform::current(),
                            resolved.digest,
                            platforms_of(&ix)
                        ),
                    )
                })?;
                let d = chosen.digest().to_string();
                let by_digest = oci_client::Reference::with_digest(
                    session.reference.registry().into(),
                    session.reference.repository().into(),
                    d.clone(),
                );
                let (bytes, digest) = session
                    .client
                    .pull_manifest_raw(&by_digest, &session.auth, MANIFEST_TYPES)
                    .await
                    .map_err(|e| {
                        let (kind, msg) = describe(&e, &format!("{}@{d}", r.name()));
                        PullError::new(kind, r, msg)
                    })?;
                blobs.push((digest.clone(), bytes.to_vec()));
                match manifest_or_index(&bytes, &digest).map_err(|e| invalid(e.to_string()))? {
                    Either::Manifest(m) => *m,
                    Either::Index(_) => {
                        return Err(invalid(format!("{digest}: an index inside an index")));
                    }
                }
            }
        };
        let config_desc = descriptor(manifest.config());
        if config_desc.size < 0 || config_desc.size as u64 > MAX_CONFIG {
            return Err(invalid(format!(
                "config {} of {} bytes is too large",
                config_desc.digest, config_desc.size
            )));
        }
        let mut config_bytes = LimitedVec::default();
        session
            .client
            .pull_blob(&session.reference, &config_desc, &mut config_bytes)
            .await
            .map_err(|e| {
                let (kind, msg) = describe(&e, &what);
                PullError::new(
                    kind,
                    r,
                    format!("failed to fetch config {}: {msg}", config_desc.digest),
                )
            })?;
        let config_bytes = config_bytes.0;
        let parsed = config::parse(&config_bytes).map_err(|e| invalid(e.to_string()))?;
        if parsed.diff_ids.len() != manifest.layers().len() {
            return Err(invalid(format!(
                "the manifest lists {} layers, the config {} diff_ids",
                manifest.layers().len(),
                parsed.diff_ids.len()
            )));
        }
        self.pull_layers(r, &session, &manifest, &parsed.diff_ids, progress)
            .await?;
        let size =
            manifest.layers().iter().map(|l| l.size()).sum::<u64>() + config_bytes.len() as u64;
        let new = NewImage {
            config_digest: config_desc.digest.clone(),
            config_bytes,
            parsed,
            blobs,
            repo_tags: r.tagged_name().into_iter().collect(),
            repo_digests: vec![format!("{}@{top_digest}", r.name())],
            size,
        };
        let store = self.clone();
        let image = tokio::task::spawn_blocking(move || store.commit_image(new))
            .await
            .map_err(|e| invalid(e.to_string()))?
            .map_err(|e| PullError::new(PullErrorKind::Disk, r, e.to_string()))?;
        progress.update(ProgressEvent::ImageStored {
            id: image.id.clone(),
            names: image.repo_tags.clone(),
        });
        Ok(image)
    }

    async fn pull_layers(
        &self,
        r: &Reference,
        session: &Session,
        manifest: &ImageManifest,
        diff_ids: &[String],
        progress: &dyn Progress,
    ) -> Result<(), PullError> {
        // Owned arguments: a closure over borrowed ones makes the future
        // not `Send` (a higher-ranked lifetime the compiler cannot prove).
        let jobs: Vec<(OciDescriptor, String)> = manifest
            .layers()
            .iter()
            .zip(diff_ids)
            .map(|(l, d)| (descriptor(l), d.clone()))
            .collect();
        // Every layer runs to its end even when one fails: a download
        // dropped half-way would leave its unpacker running detached.
        let results: Vec<Result<(), PullError>> = futures::stream::iter(jobs)
            .map(|(desc, d)| self.pull_layer(r, session, desc, d, progress))
            .buffer_unordered(CONCURRENT_LAYERS)
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// One layer, streamed from the registry into the unpacker.
    async fn pull_layer(
        &self,
        r: &Reference,
        session: &Session,
        desc: OciDescriptor,
        diff_id: String,
        progress: &dyn Progress,
    ) -> Result<(), PullError> {
        let _flight = self.flights().enter(&format!("layer:{diff_id}")).await;
        let store = self.clone();
        let (d1, d2) = (diff_id.clone(), desc.digest.clone());
        let have = tokio::task::spawn_blocking(move || {
            store
                .layer_records()
                .into_iter()
                .any(|l| l.diff_id == d1 || l.compressed.contains(&d2))
        })
        .await
        .unwrap_or(false);
        if have {
            progress.update(ProgressEvent::LayerExists {
                digest: desc.digest.clone(),
            });
            return Ok(());
        }
        progress.update(ProgressEvent::LayerStarted {
            digest: desc.digest.clone(),
            size: Some(desc.size as u64),
        });
        let layer_err = |kind, m: String| {
            PullError::new(
                kind,
                r,
                format!("failed to extract layer {}: {m}", desc.digest),
            )
        };
        let stream = session
            .client
            .pull_blob_stream(&session.reference, &desc)
            .await
            .map_err(|e| {
                let (kind, msg) = describe(&e, &desc.digest);
                layer_err(kind, msg)
            })?;
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(64);
        let store = self.clone();
        let (want_digest, want_diff) = (desc.digest.clone(), diff_id.clone());
        let unpacker =
            tokio::task::spawn_blocking(move || -> Result<(), (PullErrorKind, String)> {
                let dir = store
                    .stage_dir()
                    .map_err(|e| (PullErrorKind::Disk, e.to_string()))?;
                let result = unpack::unpack(
                    ChannelReader {
                        rx,
                        cur: Bytes::new(),
                    },
                    &dir,
                );
                let unpacked = match result {
                    Ok(u) => u,
                    Err(e) => {
                        let _ = crate::unpack::confined::remove_tree(&dir);
                        let kind = if e.is_disk() {
                            PullErrorKind::Disk
                        } else {
                            PullErrorKind::Invalid
                        };
                        return Err((kind, chain(&e)));
                    }
                };
                let mismatch = if unpacked.compressed_digest != want_digest {
                    Some((want_digest, unpacked.compressed_digest.clone()))
                } else if unpacked.diff_id != want_diff {
                    Some((want_diff, unpacked.diff_id.clone()))
                } else {
                    None
                };
                if let Some((want, got)) = mismatch {
                    let _ = crate::unpack::confined::remove_tree(&dir);
                    return Err((
                        PullErrorKind::Digest,
                        format!("digest mismatch: expected {want}, got {got}"),
                    ));
                }
                store
                    .commit_layer(StagedLayer { dir, unpacked })
                    .map(|_| ())
                    .map_err(|e| (PullErrorKind::Disk, e.to_string()))
            });
        let mut stream = stream.stream;
        let mut done = 0u64;
        let mut stream_error = None;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => {
                    done += bytes.len() as u64;
                    if tx.send(Ok(bytes)).await.is_err() {
                        break; // the unpacker gave up; its error says why
                    }
                    progress.update(ProgressEvent::LayerBytes {
                        digest: desc.digest.clone(),
                        done,
                    });
                }
                Err(e) => {
                    let msg = chain(&e);
                    let _ = tx.send(Err(io::Error::other(msg.clone()))).await;
                    let digest = e
                        .get_ref()
                        .is_some_and(|inner| inner.is::<oci_client::errors::DigestError>());
                    stream_error = Some((
                        if digest {
                            PullErrorKind::Digest
                        } else {
                            PullErrorKind::Network
                        },
                        msg,
                    ));
                    break;
                }
            }
        }
        drop(tx);
        let result = unpacker
            .await
            .map_err(|e| layer_err(PullErrorKind::Invalid, e.to_string()))?;
        if let Some((kind, msg)) = stream_error {
            return Err(layer_err(kind, format!("failed to copy: {msg}")));
        }
        result.map_err(|(kind, m)| layer_err(kind, m))?;
        progress.update(ProgressEvent::LayerDone {
            digest: desc.digest,
        });
        Ok(())
    }
}

fn descriptor(d: &Descriptor) -> OciDescriptor {
    OciDescriptor {
        media_type: d.media_type().to_string(),
        digest: d.digest().to_string(),
        size: d.size() as i64,
        urls: None,
        annotations: None,
        ..Default::default()
    }
}

/// A buffer that refuses to grow past [`MAX_CONFIG`]: a registry sending
/// more than the descriptor's size must not fill memory.
#[derive(Default)]
struct LimitedVec(Vec<u8>);

impl tokio::io::AsyncWrite for LimitedVec {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        if (self.0.len() + buf.len()) as u64 > MAX_CONFIG {
            let e = io::Error::other("the config is larger than allowed");
            return std::task::Poll::Ready(Err(e));
        }
        self.0.extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// The async download's chunks as a blocking `Read` for the unpacker.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
