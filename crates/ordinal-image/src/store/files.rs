//! The store's files: records as JSON, written crash-safely (a temporary
//! file fsynced, renamed into place, its directory fsynced), the writers'
//! lock, and the per-process work directory under `tmp/`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::FlockOperation;
use serde::{Deserialize, Serialize};

use crate::config::ImageConfig;

/// `layers/<n>.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayerRecord {
    pub id: u32,
    pub diff_id: String,
    /// Compressed digests this layer arrived as (a layer may be pulled
    /// gzip from one registry and zstd from another).
    #[serde(default)]
    pub compressed: Vec<String>,
    /// Bytes of file data on disk.
    pub disk_size: u64,
    /// Bytes of the uncompressed tar.
    pub tar_size: u64,
    /// Seconds since the epoch when it was stored.
    #[serde(default)]
    pub stored: i64,
}

/// `images/<config-hex>.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImageRecord {
    /// `sha256:<config hex>`.
    pub id: String,
    #[serde(default)]
    pub repo_tags: Vec<String>,
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// Diff_ids, lowest first.
    pub layers: Vec<String>,
    /// The short layer ids, parallel to `layers`.
    pub layer_ids: Vec<u32>,
    /// Compressed layers plus config, as containerd reports it.
    pub size: u64,
    pub config: ImageConfig,
    /// Seconds since the epoch.
    pub created: i64,
    pub last_used: i64,
}

pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Writes `bytes` to `dest` crash-safely, staging in `work`.
pub fn write_atomic(work: &Path, dest: &Path, bytes: &[u8]) -> io::Result<()> {
    static N: AtomicU64 = AtomicU64::new(0);
    let tmp = work.join(format!("f{}", N.fetch_add(1, Ordering::Relaxed)));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, dest)?;
        sync_dir(dest.parent().unwrap_or(Path::new(".")))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let bytes = fs::read(path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "skipping an unreadable store record");
            None
        }
    }
}

/// The writers' lock (`lock`), held while the guard lives. Each guard
/// opens the file anew: flock belongs to the open file, so threads of one
/// process exclude each other as processes do.
pub struct WriteLock(#[allow(dead_code)] File);

impl WriteLock {
    pub fn take(root: &Path) -> io::Result<WriteLock> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(root.join("lock"))?;
        rustix::fs::flock(f.as_fd(), FlockOperation::LockExclusive)?;
        Ok(WriteLock(f))
    }
}

/// This store handle's own directory under `tmp/`, marked live by an
/// flock on its `.lock` file so that another process's sweep at open
/// leaves it alone and removes it once we are gone.
pub struct WorkDir {
    pub path: PathBuf,
    _lock: File,
}

impl WorkDir {
    pub fn create(tmp: &Path) -> io::Result<WorkDir> {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            jiff::Timestamp::now().as_nanosecond() % 1_000_000_007
        );
        let lock_path = tmp.join(format!("{name}.lock"));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        rustix::fs::flock(lock.as_fd(), FlockOperation::LockExclusive)?;
        let path = tmp.join(&name);
        fs::create_dir(&path)?;
        Ok(WorkDir { path, _lock: lock })
    }

    /// Removes what dead processes left in `tmp/`.
    pub fn sweep(tmp: &Path) {
        let Ok(rd) = fs::read_dir(tmp) else { return };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(base) = name.strip_suffix(".lock") else {
                continue;
            };
            let Ok(f) = OpenOptions::new().write(true).open(e.path()) else {
                continue;
            };
            if rustix::fs::flock(f.as_fd(), FlockOperation::NonBlockingLockExclusive).is_ok() {
                let _ = crate::unpack::confined::remove_tree(&tmp.join(base));
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// A fresh, unique path inside the work directory.
    pub fn fresh(&self, prefix: &str) -> PathBuf {
        static N: AtomicU64 = AtomicU64::new(0);
        self.path
            .join(format!("{prefix}{}", N.fetch_add(1, Ordering::Relaxed)))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = crate::unpack::confined::remove_tree(&self.path);
        let lock = PathBuf::from(format!("{}.lock", self.path.display()));
        let _ = fs::remove_file(lock);
    }
}
