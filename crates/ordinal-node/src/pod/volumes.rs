//! A pod's volumes on the node: each volume of the pod spec becomes a host
//! directory that the containers' volumeMounts bind-mount.
//!
//! - `emptyDir`: a directory in the pod's directory, gone with the pod.
//! - `hostPath`: the path itself, with upstream's type checks and creation.
//! - `persistentVolumeClaim`: the directory of the PV the claim is bound to
//!   (`spec.local.path` or `spec.hostPath.path`).
//! - `configMap`, `secret`, `downwardAPI`, `projected`: files written the
//!   way kubelet's atomic writer does (a timestamped directory behind a
//!   `..data` symlink, each top-level entry a symlink through it), so a
//!   refresh swaps all files at once and a reader never sees half of an
//!   update.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::{
    ConfigMap, DownwardAPIVolumeFile, KeyToPath, PersistentVolume, PersistentVolumeClaim, Pod,
    Secret, Volume,
};
use kube::{Api, Client};

use super::env;

/// A volume made ready on the node.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub path: PathBuf,
    /// The volume itself is read-only (a read-only claim, or a
    /// configMap/secret/downwardAPI/projected volume).
    pub read_only: bool,
    /// When its ServiceAccount token is due for a new one (80% of its
    /// lifetime, at most a day, as the kubelet refreshes them).
    pub refresh_at: Option<tokio::time::Instant>,
}

/// Why a volume could not be set up (event `FailedMount`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("MountVolume.SetUp failed for volume \"{volume}\" : {message}")]
pub struct VolumeError {
    pub volume: String,
    pub message: String,
}

fn err(volume: &str, message: impl Into<String>) -> VolumeError {
    VolumeError {
        volume: volume.to_string(),
        message: message.into(),
    }
}

/// Files of a payload volume: relative path → (content, mode).
type Payload = BTreeMap<PathBuf, (Vec<u8>, u32)>;

/// Prepares every volume of the pod.
pub async fn prepare(
    client: &Client,
    pod: &Pod,
    dir: &Path,
    rt: &env::Runtime,
) -> Result<HashMap<String, Prepared>, VolumeError> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut out = HashMap::new();
    for volume in pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
    {
        let prepared = prepare_one(client, ns, pod, volume, dir, rt).await?;
        out.insert(volume.name.clone(), prepared);
    }
    Ok(out)
}

async fn prepare_one(
    client: &Client,
    ns: &str,
    pod: &Pod,
    v: &Volume,
    dir: &Path,
    rt: &env::Runtime,
) -> Result<Prepared, VolumeError> {
    let name = v.name.as_str();
    let own = dir.join("volumes").join(name);
    let io = |e: std::io::Error| err(name, e.to_string());
    if v.empty_dir.is_some() {
        std::fs::create_dir_all(&own).map_err(io)?;
        std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o777)).map_err(io)?;
        return Ok(Prepared {
            path: own,
            read_only: false,
            refresh_at: None,
        });
    }
    if let Some(h) = &v.host_path {
        let path = PathBuf::from(&h.path);
        check_host_path(&path, h.type_.as_deref().unwrap_or("")).map_err(|m| err(name, m))?;
        return Ok(Prepared {
            path,
            read_only: false,
            refresh_at: None,
        });
    }
    if let Some(c) = &v.persistent_volume_claim {
        let path = claim_path(client, ns, &c.claim_name)
            .await
            .map_err(|m| err(name, m))?;
        return Ok(Prepared {
            path,
            read_only: c.read_only.unwrap_or(false),
            refresh_at: None,
        });
    }
    let mut refresh_at = None;
    let payload = if let Some(cm) = &v.config_map {
        let found: Option<ConfigMap> = get(client, ns, &cm.name).await.map_err(|m| err(name, m))?;
        match found {
            Some(found) => config_map_files(&found, cm.items.as_deref(), cm.default_mode)
                .map_err(|m| err(name, m))?,
            None if cm.optional == Some(true) => Payload::new(),
            None => return Err(err(name, format!("configmap \"{}\" not found", cm.name))),
        }
    } else if let Some(s) = &v.secret {
        let secret_name = s.secret_name.clone().unwrap_or_default();
        let found: Option<Secret> = get(client, ns, &secret_name)
            .await
            .map_err(|m| err(name, m))?;
        match found {
            Some(found) => secret_files(&found, s.items.as_deref(), s.default_mode)
                .map_err(|m| err(name, m))?,
            None if s.optional == Some(true) => Payload::new(),
            None => return Err(err(name, format!("secret \"{secret_name}\" not found"))),
        }
    } else if let Some(d) = &v.downward_api {
        downward_files(pod, d.items.as_deref().unwrap_or(&[]), d.default_mode, rt)
            .map_err(|m| err(name, m))?
    } else if let Some(p) = &v.projected {
        let mut all = Payload::new();
        for source in p.sources.iter().flatten() {
            let part = if let Some(cm) = &source.config_map {
                match get::<ConfigMap>(client, ns, &cm.name)
                    .await
                    .map_err(|m| err(name, m))?
                {
                    Some(found) => config_map_files(&found, cm.items.as_deref(), p.default_mode),
                    None if cm.optional == Some(true) => Ok(Payload::new()),
                    None => Err(format!("configmap \"{}\" not found", cm.name)),
                }
            } else if let Some(s) = &source.secret {
                match get::<Secret>(client, ns, &s.name)
                    .await
                    .map_err(|m| err(name, m))?
                {
                    Some(found) => secret_files(&found, s.items.as_deref(), p.default_mode),
                    None if s.optional == Some(true) => Ok(Payload::new()),
                    None => Err(format!("secret \"{}\" not found", s.name)),
                }
            } else if let Some(d) = &source.downward_api {
                downward_files(pod, d.items.as_deref().unwrap_or(&[]), p.default_mode, rt)
            } else if let Some(t) = &source.service_account_token {
                let (files, due) = token_file(client, pod, t, p.default_mode)
                    .await
                    .map_err(|m| err(name, m))?;
                refresh_at = refresh_at.into_iter().chain(Some(due)).min();
                Ok(files)
            } else {
                // clusterTrustBundle needs a bundle API ordinal does not
                // serve; it contributes nothing.
                Ok(Payload::new())
            };
            all.extend(part.map_err(|m| err(name, m))?);
        }
        all
    } else {
        return Err(err(
            name,
            "this volume type is not supported by ordinal (supported: emptyDir, hostPath, persistentVolumeClaim, configMap, secret, downwardAPI, projected)",
        ));
    };
    write_atomically(&own, &payload).map_err(io)?;
    Ok(Prepared {
        path: own,
        read_only: true,
        refresh_at,
    })
}

/// Asks the API server for a token of the pod's ServiceAccount, bound to
/// the pod; returns the file and when to ask again.
async fn token_file(
    client: &Client,
    pod: &Pod,
    source: &k8s_openapi::api::core::v1::ServiceAccountTokenProjection,
    default_mode: Option<i32>,
) -> Result<(Payload, tokio::time::Instant), String> {
    use k8s_openapi::api::authentication::v1::{
        BoundObjectReference, TokenRequest, TokenRequestSpec,
    };
    use k8s_openapi::api::core::v1::ServiceAccount;
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let account = pod
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.clone())
        .unwrap_or_else(|| "default".into());
    let seconds = source.expiration_seconds.unwrap_or(3600);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: source.audience.iter().cloned().collect(),
            expiration_seconds: Some(seconds),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: pod.metadata.name.clone(),
                uid: pod.metadata.uid.clone(),
            }),
        },
        ..Default::default()
    };
    let answer = Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .create_token_request(&account, &Default::default(), &request)
        .await
        .map_err(|e| format!("failed to fetch token: {e}"))?;
    let token = answer.status.map(|s| s.token).unwrap_or_default();
    let lifetime = std::time::Duration::from_secs(u64::try_from(seconds).unwrap_or(3600));
    let due = tokio::time::Instant::now()
        + (lifetime * 4 / 5).min(std::time::Duration::from_secs(24 * 3600));
    let mode = default_mode.unwrap_or(0o644) as u32;
    let mut files = Payload::new();
    files.insert(PathBuf::from(&source.path), (token.into_bytes(), mode));
    Ok((files, due))
}

/// Writes the volume `name` again (a ServiceAccount token's refresh).
pub async fn refresh(
    client: &Client,
    pod: &Pod,
    dir: &Path,
    rt: &env::Runtime,
    name: &str,
) -> Result<Prepared, VolumeError> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let volume = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .and_then(|vs| vs.iter().find(|v| v.name == name))
        .ok_or_else(|| err(name, "the volume is no longer in the pod"))?;
    prepare_one(client, ns, pod, volume, dir, rt).await
}

async fn get<K>(client: &Client, ns: &str, name: &str) -> Result<Option<K>, String>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    Api::<K>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(|e| e.to_string())
}

/// The host directory behind a claim.
async fn claim_path(client: &Client, ns: &str, claim: &str) -> Result<PathBuf, String> {
    let pvc: PersistentVolumeClaim = get(client, ns, claim)
        .await?
        .ok_or_else(|| format!("persistentvolumeclaim \"{claim}\" not found"))?;
    if pvc.metadata.deletion_timestamp.is_some() {
        return Err(format!(
            "persistentvolumeclaim \"{claim}\" is being deleted"
        ));
    }
    let phase = pvc
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending");
    let volume = pvc
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .filter(|v| !v.is_empty() && phase == "Bound")
        .ok_or_else(|| format!("persistentvolumeclaim \"{claim}\" is not bound"))?;
    let pv = Api::<PersistentVolume>::all(client.clone())
        .get_opt(&volume)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("persistentvolume \"{volume}\" not found"))?;
    let spec = pv.spec.unwrap_or_default();
    let path = spec
        .local
        .map(|l| l.path)
        .or(spec.host_path.map(|h| h.path))
        .ok_or_else(|| format!("persistentvolume \"{volume}\" is neither local nor hostPath, which ordinal cannot mount"))?;
    let path = PathBuf::from(path);
    if !path.is_dir() {
        return Err(format!(
            "path {} of persistentvolume \"{volume}\" does not exist on this node",
            path.display()
        ));
    }
    Ok(path)
}

/// upstream's hostPath type checks (`hostPath type check failed: …`).
fn check_host_path(path: &Path, kind: &str) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    let failed = |what: &str| {
        format!(
            "hostPath type check failed: {} is not a {what}",
            path.display()
        )
    };
    let meta = std::fs::metadata(path);
    match kind {
        // No type: the kubelet checks nothing, and the container runtime
        // (containerd, CRI-O) makes a missing path a directory before it
        // mounts it.
        "" => {
            if meta.is_err() {
                std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        "DirectoryOrCreate" => {
            if meta.is_err() {
                std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| e.to_string())?;
            } else if !path.is_dir() {
                return Err(failed("directory"));
            }
            Ok(())
        }
        "FileOrCreate" => {
            if meta.is_err() {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
                }
                std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(path)
                    .map_err(|e| e.to_string())?;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
                    .map_err(|e| e.to_string())?;
            } else if !path.is_file() {
                return Err(failed("file"));
            }
            Ok(())
        }
        "Directory" => match meta {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(failed("directory")),
            Err(_) => Err(format!(
                "hostPath type check failed: {} is not a directory",
                path.display()
            )),
        },
        "File" => match meta {
            Ok(m) if m.is_file() => Ok(()),
            _ => Err(failed("file")),
        },
        "Socket" => match meta {
            Ok(m) if m.file_type().is_socket() => Ok(()),
            _ => Err(failed("socket")),
        },
        "CharDevice" => match meta {
            Ok(m) if m.file_type().is_char_device() => Ok(()),
            _ => Err(failed("character device")),
        },
        "BlockDevice" => match meta {
            Ok(m) if m.file_type().is_block_device() => Ok(()),
            _ => Err(failed("block device")),
        },
        other => Err(format!("invalid hostPath type {other:?}")),
    }
}

/// A relative path inside a volume, refusing absolute paths and `..`.
fn relative(path: &str) -> Result<PathBuf, String> {
    let p = Path::new(path);
    if p.components().any(|c| !matches!(c, Component::Normal(_))) || path.is_empty() {
        return Err(format!(
            "invalid path {path:?}: must be relative and may not contain '..'"
        ));
    }
    Ok(p.to_path_buf())
}

fn keyed_files(
    data: BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    default_mode: Option<i32>,
    what: &str,
) -> Result<Payload, String> {
    let default = default_mode.unwrap_or(0o644) as u32 & 0o7777;
    let mut out = Payload::new();
    match items {
        None => {
            for (k, v) in data {
                out.insert(relative(&k)?, (v, default));
            }
        }
        Some(items) => {
            for item in items {
                let v = data.get(&item.key).ok_or_else(|| {
                    format!("configuration error: {what} has no key {:?}", item.key)
                })?;
                let mode = item.mode.map(|m| m as u32 & 0o7777).unwrap_or(default);
                out.insert(relative(&item.path)?, (v.clone(), mode));
            }
        }
    }
    Ok(out)
}

fn config_map_files(
    cm: &ConfigMap,
    items: Option<&[KeyToPath]>,
    mode: Option<i32>,
) -> Result<Payload, String> {
    let mut data: BTreeMap<String, Vec<u8>> = cm
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect();
    for (k, v) in cm.binary_data.iter().flatten() {
        data.insert(k.clone(), v.0.clone());
    }
    let name = format!(
        "configmap \"{}\"",
        cm.metadata.name.as_deref().unwrap_or("")
    );
    keyed_files(data, items, mode, &name)
}

fn secret_files(
    s: &Secret,
    items: Option<&[KeyToPath]>,
    mode: Option<i32>,
) -> Result<Payload, String> {
    let mut data: BTreeMap<String, Vec<u8>> = s
        .string_data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect();
    for (k, v) in s.data.iter().flatten() {
        data.insert(k.clone(), v.0.clone());
    }
    let name = format!("secret \"{}\"", s.metadata.name.as_deref().unwrap_or(""));
    keyed_files(data, items, mode, &name)
}

fn downward_files(
    pod: &Pod,
    items: &[DownwardAPIVolumeFile],
    mode: Option<i32>,
    rt: &env::Runtime,
) -> Result<Payload, String> {
    let default = mode.unwrap_or(0o644) as u32 & 0o7777;
    let mut out = Payload::new();
    for item in items {
        let value = if let Some(f) = &item.field_ref {
            env::field_value(pod, &f.field_path, rt).map_err(|e| e.0)?
        } else if let Some(r) = &item.resource_field_ref {
            let container = pod
                .spec
                .as_ref()
                .and_then(|s| {
                    s.containers
                        .iter()
                        .find(|c| Some(c.name.as_str()) == r.container_name.as_deref())
                })
                .ok_or_else(|| {
                    format!(
                        "container {:?} not found for {:?}",
                        r.container_name, item.path
                    )
                })?;
            env::resource_value(container, &r.resource, r.divisor.as_ref(), rt).map_err(|e| e.0)?
        } else {
            String::new()
        };
        let mode = item.mode.map(|m| m as u32 & 0o7777).unwrap_or(default);
        out.insert(relative(&item.path)?, (value.into_bytes(), mode));
    }
    Ok(out)
}

/// Writes `payload` into `dir` through a timestamped directory and a
/// `..data` symlink swapped with `rename`, removing what the payload no
/// longer has. Writing the same payload again changes nothing.
pub fn write_atomically(dir: &Path, payload: &Payload) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let data = dir.join("..data");
    if let Ok(current) = std::fs::read_link(&data)
        && same_payload(&dir.join(&current), payload)
    {
        return Ok(());
    }
    let stamp = format!(
        "..{}",
        jiff::Timestamp::now().strftime("%Y_%m_%d_%H_%M_%S.%f")
    );
    let fresh = dir.join(&stamp);
    std::fs::create_dir_all(&fresh)?;
    for (path, (content, mode)) in payload {
        let file = fresh.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, content)?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(*mode))?;
    }
    let old = std::fs::read_link(&data).ok();
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&stamp, &tmp)?;
    std::fs::rename(&tmp, &data)?;
    // Top-level entries point through ..data.
    let tops: std::collections::BTreeSet<_> = payload
        .keys()
        .filter_map(|p| p.components().next())
        .map(|c| c.as_os_str().to_owned())
        .collect();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("..") {
            continue;
        }
        if !tops.contains(&name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    for top in &tops {
        let link = dir.join(top);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(Path::new("..data").join(top), &link)?;
        }
    }
    if let Some(old) = old
        && old != Path::new(&stamp)
    {
        let _ = std::fs::remove_dir_all(dir.join(old));
    }
    Ok(())
}

fn same_payload(current: &Path, payload: &Payload) -> bool {
    let mut count = 0;
    for (path, (content, mode)) in payload {
        let file = current.join(path);
        match (std::fs::read(&file), std::fs::metadata(&file)) {
            (Ok(c), Ok(m)) if &c == content && m.permissions().mode() & 0o7777 == *mode => {
                count += 1
            }
            _ => return false,
        }
    }
    let on_disk = walk_files(current);
    count == payload.len() && on_disk == payload.len()
}

fn walk_files(dir: &Path) -> usize {
    let mut n = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                n += walk_files(&p);
            } else {
                n += 1;
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(items: &[(&str, &str, u32)]) -> Payload {
        items
            .iter()
            .map(|(p, c, m)| (PathBuf::from(p), (c.as_bytes().to_vec(), *m)))
            .collect()
    }

    #[test]
    fn atomic_writes_swap_whole_payloads() {
        let dir = tempfile::tempdir().unwrap();
        let v = dir.path().join("vol");
        write_atomically(
            &v,
            &payload(&[("mode", "fast", 0o644), ("sub/level", "3", 0o400)]),
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(v.join("mode")).unwrap(), "fast");
        assert_eq!(std::fs::read_to_string(v.join("sub/level")).unwrap(), "3");
        let mode = std::fs::metadata(v.join("sub/level"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o400);
        let first = std::fs::read_link(v.join("..data")).unwrap();
        write_atomically(
            &v,
            &payload(&[("mode", "fast", 0o644), ("sub/level", "3", 0o400)]),
        )
        .unwrap();
        assert_eq!(
            std::fs::read_link(v.join("..data")).unwrap(),
            first,
            "unchanged payload, no rewrite"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
        write_atomically(&v, &payload(&[("mode", "slow", 0o644)])).unwrap();
        assert_eq!(std::fs::read_to_string(v.join("mode")).unwrap(), "slow");
        assert!(!v.join("sub").exists(), "dropped keys disappear");
        assert!(!v.join(&first).exists(), "the old generation is removed");
    }

    #[test]
    fn items_select_keys_and_paths_are_checked() {
        let data: BTreeMap<String, Vec<u8>> = [
            ("a".to_string(), b"1".to_vec()),
            ("b".to_string(), b"2".to_vec()),
        ]
        .into();
        let items = vec![KeyToPath {
            key: "b".into(),
            path: "dir/b.txt".into(),
            mode: Some(0o600),
        }];
        let files = keyed_files(data.clone(), Some(&items), None, "configmap \"x\"").unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[&PathBuf::from("dir/b.txt")], (b"2".to_vec(), 0o600));
        let bad = vec![KeyToPath {
            key: "a".into(),
            path: "../escape".into(),
            mode: None,
        }];
        assert!(keyed_files(data.clone(), Some(&bad), None, "x").is_err());
        let missing = vec![KeyToPath {
            key: "zzz".into(),
            path: "z".into(),
            mode: None,
        }];
        assert!(
            keyed_files(data, Some(&missing), None, "x")
                .unwrap_err()
                .contains("zzz")
        );
    }

    #[test]
    fn host_path_types() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("made");
        check_host_path(&d, "DirectoryOrCreate").unwrap();
        assert!(d.is_dir());
        let f = dir.path().join("deep/file");
        check_host_path(&f, "FileOrCreate").unwrap();
        assert!(f.is_file());
        assert!(
            check_host_path(&f, "Directory")
                .unwrap_err()
                .contains("is not a directory")
        );
        assert!(
            check_host_path(&d, "File")
                .unwrap_err()
                .contains("is not a file")
        );
        assert!(check_host_path(&d, "Socket").is_err());
        // No type: a missing path becomes a directory, as the container
        // runtimes make it; an existing file is left alone.
        let absent = dir.path().join("absent/deeper");
        check_host_path(&absent, "").unwrap();
        assert!(absent.is_dir());
        check_host_path(&f, "").unwrap();
        assert!(f.is_file());
    }
}
