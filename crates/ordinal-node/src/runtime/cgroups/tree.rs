//! Operations on a cgroup directory and its subtree: control files,
//! killing what runs in it, removing it.
//!
//! Everything here blocks (waiting for killed processes to leave, retrying
//! `rmdir`), for milliseconds normally and a few seconds at worst.

use std::fs::OpenOptions;
use std::io::{self, Read, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Controller, Version};

/// The two operations where cgroupfs is not a plain directory tree: making
/// a cgroup fills it with control files, and removing one takes no
/// emptying first. Everything else (reading and writing control files) is
/// ordinary file I/O. A seam of its own so the unit tests can lay out a
/// fake cgroupfs in a temporary directory.
pub(super) trait Cgroupfs: std::fmt::Debug + Send + Sync {
    fn mkdir(&self, dir: &Path) -> io::Result<()>;
    fn rmdir(&self, dir: &Path) -> io::Result<()>;
}

/// The kernel's cgroupfs.
#[derive(Debug)]
pub(super) struct Kernel;

impl Cgroupfs for Kernel {
    fn mkdir(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir(dir)
    }

    fn rmdir(&self, dir: &Path) -> io::Result<()> {
        std::fs::remove_dir(dir)
    }
}

/// How long killed processes get to leave a cgroup (exiting frees their
/// memory, which takes a moment for a large process).
const KILL_WAIT: Duration = Duration::from_secs(5);
/// How long `rmdir` is retried while the kernel still calls the cgroup
/// busy (its last tasks are being released).
const RMDIR_WAIT: Duration = Duration::from_secs(1);
/// The first pause of those waits, doubling up to 50 ms. A killed process
/// leaves within a millisecond or so; a pod's teardown waits for that.
const FIRST_PAUSE: Duration = Duration::from_micros(100);

/// An error naming the file or directory it happened on.
pub(super) fn context(e: io::Error, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Writes `value` to the control file `dir/file` in one `write`, as the
/// kernel wants it. (`O_TRUNC` means nothing to cgroupfs, as for a shell's
/// `>`; it keeps a plain file, as in the tests' fake, to the last value.)
pub(super) fn write(dir: &Path, file: &str, value: &str) -> io::Result<()> {
    let path = dir.join(file);
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|e| context(e, format_args!("writing {value:?} to {}", path.display())))
}

pub(super) fn read(dir: &Path, file: &str) -> io::Result<String> {
    let path = dir.join(file);
    let mut text = String::new();
    std::fs::File::open(&path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(|e| context(e, format_args!("reading {}", path.display())))?;
    Ok(text)
}

/// The value of `key` in a flat keyed file (`memory.events`,
/// `memory.oom_control`: one "key value" per line).
pub(super) fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// The controllers named in a v2 list (`cgroup.controllers`, or
/// `cgroup.subtree_control` with or without the `+` we write).
pub(super) fn controller_list(text: &str) -> Vec<Controller> {
    text.split_whitespace()
        .filter_map(|w| Controller::from_name(w.trim_start_matches('+')))
        .collect()
}

/// v2: enables `wanted` (those of them the cgroup has) for its children,
/// writing only when one is missing, so a host that enables them already
/// sees no write; returns the ones enabled afterwards.
pub(super) fn enable_for_children(
    dir: &Path,
    wanted: &[Controller],
) -> io::Result<Vec<Controller>> {
    let available = controller_list(&read(dir, "cgroup.controllers")?);
    let enabled = controller_list(&read(dir, "cgroup.subtree_control")?);
    let want: Vec<Controller> = wanted
        .iter()
        .copied()
        .filter(|c| available.contains(c))
        .collect();
    if want.iter().any(|c| !enabled.contains(c)) {
        let text: Vec<String> = want.iter().map(|c| format!("+{}", c.name())).collect();
        write(dir, "cgroup.subtree_control", &text.join(" "))?;
    }
    let enabled = controller_list(&read(dir, "cgroup.subtree_control")?);
    Ok(wanted
        .iter()
        .copied()
        .filter(|c| enabled.contains(c))
        .collect())
}

/// v1: a new cgroup in a hierarchy with `cpuset` starts with no CPUs and no
/// memory nodes, and no task may join it; it gets its parent's.
pub(super) fn inherit_cpuset(dir: &Path) -> io::Result<()> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if !dir.join(file).exists() || !read(dir, file)?.trim().is_empty() {
            continue;
        }
        write(dir, file, read(parent, file)?.trim())?;
    }
    Ok(())
}

/// The child cgroups of `dir`.
fn children(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// The processes in `dir` and every cgroup below it, as the kernel lists
/// them (a process that has exited is no longer listed, reaped or not).
/// The agent itself is left out: it never runs in a cgroup of ours, and
/// must not kill itself if someone put it there.
fn processes(dir: &Path, out: &mut Vec<i32>) -> io::Result<()> {
    let me = std::process::id() as i32;
    match read(dir, "cgroup.procs") {
        Ok(text) => out.extend(
            text.lines()
                .filter_map(|l| l.trim().parse::<i32>().ok())
                .filter(|pid| *pid > 1 && *pid != me),
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    for child in children(dir)? {
        processes(&child, out)?;
    }
    Ok(())
}

/// Kills every process in the subtrees `dirs` (one per hierarchy) and
/// waits until none is left: `cgroup.kill` where v2 has it, else SIGKILL
/// to each listed process, again until the list is empty (a process may
/// fork while it is being killed).
pub(super) fn kill(version: Version, dirs: &[PathBuf]) -> io::Result<()> {
    let deadline = Instant::now() + KILL_WAIT;
    let mut pause = FIRST_PAUSE;
    loop {
        let alive = signal(version, dirs)?;
        if alive.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{}: processes {alive:?} still there {} s after SIGKILL",
                    dirs[0].display(),
                    KILL_WAIT.as_secs()
                ),
            ));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// SIGKILLs every process in the subtrees `dirs` once, without waiting
/// for them to leave (`cgroup.kill` where v2 has it); the processes it
/// found.
pub(super) fn signal(version: Version, dirs: &[PathBuf]) -> io::Result<Vec<i32>> {
    let mut alive = Vec::new();
    for dir in dirs {
        processes(dir, &mut alive)?;
    }
    if alive.is_empty() {
        return Ok(alive);
    }
    let killed = version == Version::V2
        && dirs.iter().all(|d| d.join("cgroup.kill").exists())
        && dirs.iter().all(|d| write(d, "cgroup.kill", "1").is_ok());
    if !killed {
        for pid in &alive {
            // SAFETY: kill has no memory effects; ESRCH (gone already)
            // is what we want.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
    }
    Ok(alive)
}

/// Removes `dir` and every cgroup below it, deepest first; a cgroup
/// already gone is fine. The processes must be gone ([`kill`]); `rmdir` is
/// retried briefly while the kernel still calls a cgroup busy.
pub(super) fn remove(fs: &dyn Cgroupfs, dir: &Path) -> io::Result<()> {
    match children(dir) {
        Ok(kids) => {
            for kid in kids {
                remove(fs, &kid)?;
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(context(e, dir.display())),
    }
    let deadline = Instant::now() + RMDIR_WAIT;
    let mut pause = FIRST_PAUSE;
    loop {
        match fs.rmdir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(context(e, format_args!("removing {}", dir.display()))),
        }
    }
}

/// [`kill`] then [`remove`] for each of `dirs`.
pub(super) fn destroy(fs: &dyn Cgroupfs, version: Version, dirs: &[PathBuf]) -> io::Result<()> {
    kill(version, dirs)?;
    for dir in dirs {
        remove(fs, dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_files_are_read_by_key() {
        let oom_control = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(keyed(oom_control, "oom_kill"), Some(3));
        assert_eq!(keyed(oom_control, "oom"), None);
        let events = "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(keyed(events, "oom_kill"), Some(1));
        assert_eq!(keyed("", "oom_kill"), None);
    }

    #[test]
    fn controller_lists_with_and_without_plus() {
        use Controller::*;
        assert_eq!(
            controller_list("cpuset cpu io memory hugetlb pids rdma misc\n"),
            [Cpu, Memory, Pids]
        );
        assert_eq!(controller_list("+memory +pids"), [Memory, Pids]);
        assert_eq!(controller_list(""), []);
    }
}
