//! What the runtime is told to start for one container: its program, its
//! environment, its user, its mounts — the pod's container definition
//! combined with its image's configuration as the kubelet and containerd
//! combine them:
//!
//! - `command`/`args` against the image's `Entrypoint`/`Cmd` (a command
//!   replaces both; args alone replace `Cmd`);
//! - the image's `Env` under the pod's (the pod's wins), `PATH` by default;
//! - `workingDir` or the image's `WorkingDir`;
//! - the image's `User` (names looked up in its own `/etc/passwd` and
//!   `/etc/group`) unless `runAsUser`/`runAsGroup` say otherwise, checked
//!   against `runAsNonRoot`;
//! - volume mounts (subPaths resolved without leaving their volume), an
//!   anonymous volume for each of the image's `VOLUME`s the pod does not
//!   mount, the termination-message file and the pod's `/etc` files.
//!
//! Everything here is computed from inputs the worker gathered; the only
//! effects are on the pod's own directory (mount points of subPaths,
//! anonymous volumes, the termination-message file).

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, Pod};
use ordinal_image::ImageConfig;

use super::{env, expand, files, volumes};
use crate::runtime::rootfs::sys::{self, Create};
use crate::runtime::{Bind, ContainerSpec, RootSpec, Security, Source, passwd, security};

/// Why a container cannot be created: (waiting reason, message).
pub type Refusal = (String, String);

fn config_error(message: impl Into<String>) -> Refusal {
    ("CreateContainerConfigError".into(), message.into())
}

fn create_error(message: impl Into<String>) -> Refusal {
    ("CreateContainerError".into(), message.into())
}

/// The image a container runs, as far as building its spec goes.
pub struct ImageInput<'a> {
    pub config: &'a ImageConfig,
    pub root: RootSpec,
}

/// Everything a container's spec is built from.
pub struct Inputs<'a> {
    pub pod: &'a Pod,
    pub container: &'a Container,
    pub sources: &'a env::Sources,
    pub runtime: &'a env::Runtime,
    pub volumes: &'a HashMap<String, volumes::Prepared>,
    /// The pod's directory on the node.
    pub pod_dir: &'a Path,
    pub domain: &'a str,
    pub restart_count: i32,
    /// `None`: a host program (RuntimeClass `host`).
    pub image: Option<ImageInput<'a>>,
}

/// Where a container's own things live in the pod's directory.
pub fn container_dir(pod_dir: &Path, name: &str) -> PathBuf {
    pod_dir.join("containers").join(name)
}

/// The host file behind a container's termination-message path.
pub fn termination_file(pod_dir: &Path, name: &str) -> PathBuf {
    container_dir(pod_dir, name).join("termination-log")
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Builds the spec, or says why the container cannot be created.
pub fn build(i: &Inputs<'_>) -> Result<ContainerSpec, Refusal> {
    let c = i.container;
    let pod_spec = i.pod.spec.as_ref();
    let pod_sc = pod_spec.and_then(|s| s.security_context.as_ref());
    let sc = c.security_context.as_ref();
    let security = Security::of(sc).map_err(create_error)?;
    let (run_as_user, run_as_group, non_root) = security::run_as(pod_sc, sc);
    let to_u32 = |v: Option<i64>| v.and_then(|n| u32::try_from(n).ok());
    let image_config = i.image.as_ref().map(|img| img.config);
    let who = match &i.image {
        Some(img) => {
            let tops = top_first(&img.root, i.pod_dir, &c.name);
            let passwd_file = passwd::read_image_file(&tops, "/etc/passwd").unwrap_or_default();
            let group_file = passwd::read_image_file(&tops, "/etc/group").unwrap_or_default();
            let user = img.config.user.clone().unwrap_or_default();
            if non_root && run_as_user.is_none() && !passwd::is_numeric(&user) {
                return Err(config_error(format!(
                    "container has runAsNonRoot and image has non-numeric user ({user}), cannot verify user is non-root (pod: {}, container: {})",
                    pod_label(i.pod),
                    c.name
                )));
            }
            passwd::resolve(
                &user,
                to_u32(run_as_user),
                to_u32(run_as_group),
                &passwd_file,
                &group_file,
            )
            .map_err(create_error)?
        }
        None => {
            let uid = to_u32(run_as_user).unwrap_or(0);
            passwd::Resolved {
                uid,
                gid: to_u32(run_as_group).unwrap_or(0),
                groups: Vec::new(),
                home: if uid == 0 { "/root".into() } else { "/".into() },
            }
        }
    };
    if non_root && who.uid == 0 {
        return Err(config_error(format!(
            "container has runAsNonRoot and image will run as root (pod: {}, container: {})",
            pod_label(i.pod),
            c.name
        )));
    }
    let env = environment(i, image_config, &who)?;
    let argv = program(c, image_config, &env)?;
    let working_dir = c
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .or_else(|| image_config.and_then(|cfg| cfg.working_dir.clone()))
        .filter(|w| !w.is_empty());
    let mut supplemental = who.groups.clone();
    supplemental.extend(
        pod_sc
            .and_then(|s| s.supplemental_groups.clone())
            .unwrap_or_default()
            .into_iter()
            .chain(pod_sc.and_then(|s| s.fs_group))
            .filter_map(|g| u32::try_from(g).ok()),
    );
    let mut binds = volume_binds(i, &env)?;
    if let Some(cfg) = image_config {
        binds.extend(anonymous_volumes(i, cfg, &binds)?);
    }
    let files = pod_files(i, &binds)?;
    // Explicit numbers keep host-program containers as they were (the
    // agent's own user unless the pod says otherwise).
    let (user, group) = match &i.image {
        Some(_) => (Some(who.uid), Some(who.gid)),
        None => (to_u32(run_as_user), to_u32(run_as_group)),
    };
    Ok(ContainerSpec {
        name: c.name.clone(),
        argv,
        env,
        working_dir,
        user,
        group,
        supplemental_groups: supplemental,
        binds,
        files,
        log: i
            .pod_dir
            .join("logs")
            .join(&c.name)
            .join(format!("{}.log", i.restart_count)),
        root: i
            .image
            .as_ref()
            .map(|img| img.root.clone())
            .unwrap_or(RootSpec::Host),
        security,
        instance: u32::try_from(i.restart_count).unwrap_or(0),
        limits: crate::runtime::cgroups::limits_of(c.resources.as_ref()),
        stdin: c.stdin.unwrap_or(false),
        stdin_once: c.stdin_once.unwrap_or(false),
        tty: c.tty.unwrap_or(false),
    })
}

/// `name_namespace(uid)`, as the kubelet names pods in messages.
fn pod_label(pod: &Pod) -> String {
    format!(
        "\"{}_{}({})\"",
        pod.metadata.name.as_deref().unwrap_or(""),
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.uid.as_deref().unwrap_or("")
    )
}

/// Readies the container's own root — its writable layer, or its private
/// copy of the image — for a start on `image_id`: when the root was made
/// on another image (an in-place update), it is removed, so the new
/// container starts from its image alone, as the kubelet's would. Which
/// image the root belongs to is kept beside it, so an agent that restarts
/// in between still knows.
pub fn own_root_for(pod_dir: &Path, name: &str, image_id: &str) {
    if image_id.is_empty() {
        return;
    }
    let dir = container_dir(pod_dir, name);
    let record = dir.join(ROOT_IMAGE);
    match std::fs::read_to_string(&record) {
        Ok(made_on) if made_on == image_id => return,
        Ok(_) => discard_own_root(&dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %record.display(), error = %e, "reading which image a container's root is of failed");
            discard_own_root(&dir);
        }
    }
    let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&record, image_id));
    if let Err(e) = written {
        tracing::warn!(path = %record.display(), error = %e, "recording which image a container's root is of failed");
    }
}

/// The file in a container's directory naming the image its root is of.
const ROOT_IMAGE: &str = "root-image";

fn discard_own_root(dir: &Path) {
    for own in OWN_ROOT {
        let path = dir.join(own);
        if let Err(e) = std::fs::remove_dir_all(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "removing a container's old root failed");
        }
    }
}

/// What of a container's directory is its own root: overlay's writable
/// and work directories, or the copy snapshotter's copy.
const OWN_ROOT: [&str; 3] = ["upper", "work", "copy"];

/// The image's layers and the container's own writable layer (if it ran
/// before), topmost first: where files are read from for the user lookup.
fn top_first(root: &RootSpec, pod_dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let dir = container_dir(pod_dir, name);
    for own in [dir.join("upper"), dir.join("copy")] {
        if own.is_dir() {
            dirs.push(own);
        }
    }
    if let RootSpec::Image { layer_dirs, .. } = root {
        dirs.extend(layer_dirs.iter().rev().cloned());
    }
    dirs
}

/// Defaults, then the image's variables, then the pod's (which win).
fn environment(
    i: &Inputs<'_>,
    image: Option<&ImageConfig>,
    who: &passwd::Resolved,
) -> Result<Vec<(String, String)>, Refusal> {
    let (hostname, _) = files::names(i.pod, i.domain);
    let mut base = Vec::new();
    let image_env: Vec<(String, String)> = image
        .map(|cfg| {
            cfg.env
                .iter()
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (kv.clone(), String::new()),
                })
                .collect()
        })
        .unwrap_or_default();
    if !image_env.iter().any(|(k, _)| k == "PATH") {
        base.push(("PATH".to_string(), DEFAULT_PATH.to_string()));
    }
    base.push(("HOSTNAME".to_string(), hostname));
    for (k, v) in image_env {
        match base.iter_mut().find(|(name, _)| *name == k) {
            Some(slot) => slot.1 = v,
            None => base.push((k, v)),
        }
    }
    let mut env = env::resolve(i.pod, i.container, i.sources, i.runtime, &base)
        .map_err(|e| config_error(e.0))?;
    if !env.iter().any(|(k, _)| k == "HOME") {
        env.push(("HOME".into(), who.home.clone()));
    }
    if i.container.tty == Some(true) && !env.iter().any(|(k, _)| k == "TERM") {
        env.push(("TERM".into(), "xterm".into()));
    }
    Ok(env)
}

/// `command`/`args` (with `$(VAR)` expanded) against `Entrypoint`/`Cmd`.
fn program(
    c: &Container,
    image: Option<&ImageConfig>,
    env: &[(String, String)],
) -> Result<Vec<String>, Refusal> {
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let command: Vec<String> = c
        .command
        .iter()
        .flatten()
        .map(|a| expand::expand(a, lookup))
        .collect();
    let args: Vec<String> = c
        .args
        .iter()
        .flatten()
        .map(|a| expand::expand(a, lookup))
        .collect();
    let Some(cfg) = image else {
        let argv: Vec<String> = command.into_iter().chain(args).collect();
        if argv.is_empty() {
            return Err(create_error(format!(
                "container {:?} has no command: with RuntimeClass \"host\" a container runs a program of this machine, so set command (and args)",
                c.name
            )));
        }
        return Ok(argv);
    };
    let argv: Vec<String> = match (command.is_empty(), args.is_empty()) {
        (false, _) => command.into_iter().chain(args).collect(),
        (true, false) => cfg
            .entrypoint
            .iter()
            .flatten()
            .cloned()
            .chain(args)
            .collect(),
        (true, true) => cfg
            .entrypoint
            .iter()
            .flatten()
            .chain(cfg.cmd.iter().flatten())
            .cloned()
            .collect(),
    };
    if argv.is_empty() {
        return Err(create_error(
            "failed to generate container spec: no command specified",
        ));
    }
    Ok(argv)
}

/// The container's volume mounts; subPaths are resolved inside their
/// volume (created when missing) and handed over as descriptors, so a
/// symbolic link in the volume can never make a mount of something
/// outside it.
fn volume_binds(i: &Inputs<'_>, env: &[(String, String)]) -> Result<Vec<Bind>, Refusal> {
    let c = i.container;
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut binds = Vec::new();
    for m in c.volume_mounts.iter().flatten() {
        let Some(v) = i.volumes.get(&m.name) else {
            return Err(config_error(format!("volume {:?} is not prepared", m.name)));
        };
        let sub = match (&m.sub_path, &m.sub_path_expr) {
            (Some(s), _) if !s.is_empty() => Some(s.clone()),
            (_, Some(e)) if !e.is_empty() => Some(expand::expand(e, lookup)),
            _ => None,
        };
        let read_only = m.read_only.unwrap_or(false) || v.read_only;
        let source = match sub {
            None => Source::Path(v.path.clone()),
            Some(sub) => {
                let fd = open_sub_path(&v.path, &sub).map_err(|e| {
                    config_error(format!(
                        "failed to prepare subPath for volumeMount {:?} of container {:?}: {e}",
                        m.name, c.name
                    ))
                })?;
                Source::Fd(Arc::new(fd))
            }
        };
        binds.push(Bind {
            source,
            target: PathBuf::from(&m.mount_path),
            read_only,
        });
    }
    Ok(binds)
}

/// Opens `sub` inside `volume`, creating missing directories, refusing
/// any path that leads out of the volume (`..`, absolute, or a symbolic
/// link pointing outside, as in CVE-2017-1002101).
pub fn open_sub_path(volume: &Path, sub: &str) -> std::io::Result<OwnedFd> {
    if Path::new(sub)
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(std::io::Error::other(format!(
            "subPath {sub:?} must be a relative path without '..'"
        )));
    }
    let root = std::fs::File::open(volume)?;
    let rel =
        CString::new(sub).map_err(|_| std::io::Error::other("subPath contains a NUL byte"))?;
    use std::os::fd::AsRawFd;
    // SAFETY: open_in on descriptors and strings we own; the result is a
    // fresh descriptor we take ownership of.
    let fd = unsafe { sys::open_in(root.as_raw_fd(), &rel, Create::Dir, sys::BENEATH) };
    match fd {
        // SAFETY: a fresh descriptor.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
        Err(libc::EXDEV) => Err(std::io::Error::other(format!(
            "subPath {sub:?} leads out of the volume (through a symbolic link)"
        ))),
        Err(e) => Err(std::io::Error::from_raw_os_error(e)),
    }
}

/// An anonymous volume for each `VOLUME` of the image the pod does not
/// mount itself: a directory of the container's that outlives its
/// restarts and goes with the pod, filled once from the image (as
/// containerd copies the image's content into it).
fn anonymous_volumes(
    i: &Inputs<'_>,
    cfg: &ImageConfig,
    mounted: &[Bind],
) -> Result<Vec<Bind>, Refusal> {
    let mut out = Vec::new();
    let dir = container_dir(i.pod_dir, &i.container.name).join("volumes");
    for path in &cfg.volumes {
        let clean = Path::new("/").join(path.trim_start_matches('/'));
        if mounted.iter().any(|b| b.target == clean) {
            continue;
        }
        let name: String = clean
            .to_string_lossy()
            .trim_start_matches('/')
            .replace('/', "_");
        let host = dir.join(if name.is_empty() { "_" } else { &name });
        if !host.exists() {
            let layers = match i.image.as_ref().map(|img| &img.root) {
                Some(RootSpec::Image { layer_dirs, .. }) => layer_dirs.clone(),
                _ => Vec::new(),
            };
            copy_up(&layers, &clean, &host).map_err(|e| {
                create_error(format!(
                    "creating the volume {} of the image: {e}",
                    clean.display()
                ))
            })?;
        }
        out.push(Bind::path(host, clean, false));
    }
    Ok(out)
}

/// Fills `dest` with what the image has at `path` (nothing when it has
/// nothing there), keeping owners and modes.
fn copy_up(layers: &[PathBuf], path: &Path, dest: &Path) -> std::io::Result<()> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let staging = dest.with_extension("partial");
    let _ = std::fs::remove_dir_all(&staging);
    // The layers holding that directory, from the topmost one that
    // replaced it (opaque, or not a directory below) downwards.
    let mut sources: Vec<PathBuf> = Vec::new();
    for layer in layers.iter().rev() {
        let candidate = layer.join(rel);
        match std::fs::symlink_metadata(&candidate) {
            Ok(m) if m.is_dir() => {
                sources.push(candidate.clone());
                if is_opaque(&candidate) {
                    break;
                }
            }
            // A whiteout or a file: the directory does not go further down.
            Ok(_) => break,
            Err(_) => continue,
        }
    }
    sources.reverse();
    std::fs::create_dir_all(&staging)?;
    if !sources.is_empty() {
        ordinal_image::materialize(&sources, &staging)?;
    }
    std::fs::rename(&staging, dest)
}

fn is_opaque(dir: &Path) -> bool {
    let Ok(path) = CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    let mut value = [0u8; 4];
    // SAFETY: lgetxattr into a buffer of the given size.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    n == 1 && value[0] == b'y'
}

/// The pod's `/etc` files (unless a volume is mounted there) and the
/// termination-message file (emptied for this start).
fn pod_files(i: &Inputs<'_>, binds: &[Bind]) -> Result<Vec<(PathBuf, PathBuf)>, Refusal> {
    let etc = i.pod_dir.join("etc");
    let mounted = |p: &Path| binds.iter().any(|b| b.target == p);
    let mut out: Vec<(PathBuf, PathBuf)> = ["hosts", "resolv.conf", "hostname"]
        .iter()
        .map(|f| (PathBuf::from(format!("/etc/{f}")), etc.join(f)))
        .filter(|(inside, _)| !mounted(inside))
        .collect();
    let path = i
        .container
        .termination_message_path
        .clone()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/dev/termination-log".into());
    let host = termination_file(i.pod_dir, &i.container.name);
    let made = host
        .parent()
        .map(std::fs::create_dir_all)
        .unwrap_or(Ok(()))
        .and_then(|_| std::fs::write(&host, b""))
        .and_then(|_| {
            use std::os::unix::fs::PermissionsExt;
            // Any user the container runs as may write its message.
            std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o666))
        });
    made.map_err(|e| create_error(format!("creating the termination-message file: {e}")))?;
    if !mounted(Path::new(&path)) {
        out.push((PathBuf::from(path), host));
    }
    Ok(out)
}

/// The termination message of an instance that ended: the file's content
/// (at most 4 KiB), or with `FallbackToLogsOnError` after a failure with
/// an empty file, the end of its log (80 lines, 2 KiB), as the kubelet.
pub fn termination_message(
    container: &Container,
    pod_dir: &Path,
    log: &Path,
    exit_code: i32,
) -> Option<String> {
    const MAX_FILE: usize = 4096;
    const MAX_LOG_LINES: usize = 80;
    const MAX_LOG_BYTES: usize = 2048;
    let file = termination_file(pod_dir, &container.name);
    let content = std::fs::read(&file)
        .ok()
        .map(|mut b| {
            b.truncate(MAX_FILE);
            String::from_utf8_lossy(&b).into_owned()
        })
        .filter(|s| !s.is_empty());
    if content.is_some() {
        return content;
    }
    if exit_code == 0
        || container.termination_message_policy.as_deref() != Some("FallbackToLogsOnError")
    {
        return None;
    }
    let text = crate::logs::reader::tail_text(log, MAX_LOG_LINES, MAX_LOG_BYTES)?;
    Some(text).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests;
