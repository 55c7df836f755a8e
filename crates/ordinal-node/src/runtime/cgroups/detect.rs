//! Finding the cgroup hierarchies and making the instance's root in each.
//!
//! v2 (one unified hierarchy, `cgroup.controllers` at its root): the
//! agent's own cgroup holds processes, so it cannot enable controllers for
//! children (the "no internal processes" rule); the root is
//! `<fs_root>/ordinal/<instance>`, with cpu, memory and pids enabled down
//! the path. v1 (one hierarchy per controller or group of controllers): the
//! root is made under the agent's own cgroup in each hierarchy, so limits
//! that enclose the agent enclose its pods too.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::tree::{self, Cgroupfs};
use super::{Controller, Hierarchy, Version};

/// What `setup` found and made.
#[derive(Debug)]
pub(super) struct Layout {
    pub version: Version,
    /// The instance's root in each hierarchy in use.
    pub hierarchies: Vec<Hierarchy>,
    /// Which of memory, cpu and pids are not enforced, and why.
    pub unavailable: Option<String>,
}

/// The controllers pods are limited with; cpuacct is only accounted.
const ENFORCED: [Controller; 3] = [Controller::Memory, Controller::Cpu, Controller::Pids];

/// Detects the version under `fs_root` and makes `<…>/ordinal/<instance>`
/// fresh in each usable hierarchy. `proc_self_cgroup` is the text of
/// /proc/self/cgroup (v1 reads the agent's own cgroups from it).
pub(super) fn layout(
    fs: &dyn Cgroupfs,
    fs_root: &Path,
    instance: &str,
    proc_self_cgroup: &str,
) -> Layout {
    if fs_root.join("cgroup.controllers").exists() {
        v2(fs, fs_root, instance)
    } else {
        v1(fs, fs_root, instance, proc_self_cgroup)
    }
}

fn v2(fs: &dyn Cgroupfs, fs_root: &Path, instance: &str) -> Layout {
    let unavailable = |why: String| Layout {
        version: Version::V2,
        hierarchies: Vec::new(),
        unavailable: Some(format!("cgroup v2 at {}: {why}", fs_root.display())),
    };
    let available = match tree::read(fs_root, "cgroup.controllers") {
        Ok(text) => text,
        Err(e) => return unavailable(e.to_string()),
    };
    let usable: Vec<Controller> = tree::controller_list(&available)
        .into_iter()
        .filter(|c| ENFORCED.contains(c))
        .collect();
    if usable.is_empty() {
        return unavailable(format!(
            "none of memory, cpu, pids is available (cgroup.controllers: {:?}; \
             a hybrid host binds them to v1 hierarchies)",
            available.trim()
        ));
    }
    let parent = fs_root.join("ordinal");
    let root = parent.join(instance);
    let made = (|| {
        tree::enable_for_children(fs_root, &usable)?;
        make(fs, &parent)?;
        tree::enable_for_children(&parent, &usable)?;
        tree::destroy(fs, Version::V2, std::slice::from_ref(&root))?;
        make(fs, &root)?;
        tree::enable_for_children(&root, &usable)
    })();
    let enabled = match made {
        Ok(enabled) if !enabled.is_empty() => enabled,
        Ok(_) => {
            forget(fs, &root);
            return unavailable(format!(
                "could not enable any of {} for {}",
                names(&usable),
                root.display()
            ));
        }
        Err(e) => {
            forget(fs, &root);
            return unavailable(e.to_string());
        }
    };
    let missing: Vec<String> = ENFORCED
        .iter()
        .filter(|c| !enabled.contains(c))
        .map(|c| format!("{} (not available to {})", c.name(), root.display()))
        .collect();
    Layout {
        version: Version::V2,
        hierarchies: vec![Hierarchy {
            root,
            controllers: enabled,
        }],
        unavailable: not_enforced(Version::V2, &missing),
    }
}

/// A v1 hierarchy as found: where it is mounted and where the agent is.
struct Found {
    mount: PathBuf,
    own: PathBuf,
    controllers: Vec<Controller>,
}

fn v1(fs: &dyn Cgroupfs, fs_root: &Path, instance: &str, proc_self_cgroup: &str) -> Layout {
    // controller name → (its hierarchy's controller list, the agent's path)
    let mut own: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for line in proc_self_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(list), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        for name in list.split(',').filter(|n| !n.is_empty()) {
            own.insert(name, (list, path));
        }
    }
    let mut missing = Vec::new();
    // Keyed by the mount's real path: `cpu` and `cpuacct` are often two
    // links to one `cpu,cpuacct` hierarchy.
    let mut found: BTreeMap<PathBuf, Found> = BTreeMap::new();
    let wanted = [ENFORCED.as_slice(), &[Controller::Cpuacct]].concat();
    for c in wanted {
        let Some((list, path)) = own.get(c.name()) else {
            missing.push((c, "not in /proc/self/cgroup".to_string()));
            continue;
        };
        let Some(mount) = [fs_root.join(c.name()), fs_root.join(list)]
            .into_iter()
            .find(|m| m.is_dir())
        else {
            missing.push((c, format!("no hierarchy under {}", fs_root.display())));
            continue;
        };
        let mount = mount.canonicalize().unwrap_or(mount);
        let entry = found.entry(mount.clone()).or_insert_with(|| Found {
            own: mount.join(path.trim_start_matches('/')),
            mount,
            controllers: Vec::new(),
        });
        entry.controllers.push(c);
    }
    let mut hierarchies = Vec::new();
    for f in found.into_values() {
        // Inside a container whose cgroups are bind mounts of its own
        // subtree, the agent's path does not exist below the mount: the
        // mount is the agent's cgroup.
        let base = if f.own.is_dir() { f.own } else { f.mount };
        let root = base.join("ordinal").join(instance);
        match fresh_root(fs, &root) {
            Ok(()) => hierarchies.push(Hierarchy {
                root,
                controllers: f.controllers,
            }),
            Err(e) => {
                forget(fs, &root);
                missing.extend(f.controllers.iter().map(|c| (*c, e.to_string())));
            }
        }
    }
    // cpuacct only accounts: without it nothing goes unenforced.
    let missing: Vec<String> = missing
        .into_iter()
        .filter(|(c, _)| *c != Controller::Cpuacct)
        .map(|(c, why)| format!("{} ({why})", c.name()))
        .collect();
    Layout {
        version: Version::V1,
        hierarchies,
        unavailable: not_enforced(Version::V1, &missing),
    }
}

/// v1: `root` and its parent exist, and `root` is empty: a previous
/// instance's leftovers are killed and removed first.
fn fresh_root(fs: &dyn Cgroupfs, root: &Path) -> io::Result<()> {
    let parent = root.parent().unwrap_or(root);
    make(fs, parent)?;
    tree::inherit_cpuset(parent)?;
    tree::destroy(fs, Version::V1, std::slice::from_ref(&root.to_path_buf()))?;
    make(fs, root)?;
    tree::inherit_cpuset(root)
}

/// `mkdir`, where an existing directory is fine.
fn make(fs: &dyn Cgroupfs, dir: &Path) -> io::Result<()> {
    match fs.mkdir(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            Err(tree::context(e, format_args!("creating {}", dir.display())))
        }
        _ => Ok(()),
    }
}

/// Removes what a failed setup made (`root`, and `ordinal` above it if no
/// other instance uses it); nothing runs there yet.
fn forget(fs: &dyn Cgroupfs, root: &Path) {
    let _ = tree::remove(fs, root);
    if let Some(parent) = root.parent() {
        let _ = fs.rmdir(parent);
    }
}

fn names(cs: &[Controller]) -> String {
    cs.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
}

fn not_enforced(version: Version, missing: &[String]) -> Option<String> {
    let v = match version {
        Version::V1 => "v1",
        Version::V2 => "v2",
    };
    (!missing.is_empty()).then(|| format!("cgroup {v}: not enforced: {}", missing.join("; ")))
}
