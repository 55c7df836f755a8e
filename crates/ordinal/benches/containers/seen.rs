//! When each named thing was first seen: a pod Running in a watch, or a
//! container's marker file appearing in a directory (inotify). Waiters
//! wake on every new sighting.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// First sightings by name.
#[derive(Default)]
pub struct Seen {
    at: Mutex<HashMap<String, Instant>>,
    changed: Notify,
}

impl Seen {
    /// Records `name` now, unless it was seen before.
    pub fn record(&self, name: &str) {
        let now = Instant::now();
        self.at
            .lock()
            .unwrap()
            .entry(name.to_string())
            .or_insert(now);
        self.changed.notify_waiters();
    }

    pub fn get(&self, name: &str) -> Option<Instant> {
        self.at.lock().unwrap().get(name).copied()
    }

    /// When `name` was first seen; None if not within `limit`.
    pub async fn wait(&self, name: &str, limit: Duration) -> Option<Instant> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.changed.notified();
            futures::pin_mut!(notified);
            notified.as_mut().enable();
            if let Some(at) = self.get(name) {
                return Some(at);
            }
            tokio::time::timeout_at(deadline, notified).await.ok()?;
        }
    }
}

/// Records every file created in `dir` (its name) as it appears, from a
/// thread reading inotify events; the thread ends when the directory
/// goes. A marker is the cheapest proof that a container's process runs:
/// the kernel reports the creation, nothing polls.
pub fn watch_files(dir: &Path) -> Arc<Seen> {
    let seen = Arc::new(Seen::default());
    // SAFETY: plain system calls; the fd is owned by the thread below.
    let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
    assert!(
        fd >= 0,
        "inotify_init1: {}",
        std::io::Error::last_os_error()
    );
    let path = CString::new(dir.as_os_str().as_bytes()).expect("a path without NUL");
    // SAFETY: a valid fd and a NUL-terminated path.
    let wd = unsafe { libc::inotify_add_watch(fd, path.as_ptr(), libc::IN_CREATE) };
    assert!(
        wd >= 0,
        "inotify_add_watch: {}",
        std::io::Error::last_os_error()
    );
    let recorder = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        'reading: loop {
            // SAFETY: reading into a buffer we own.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            let mut off = 0;
            while off + 16 <= n as usize {
                let word = |at: usize| u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap());
                let (mask, len) = (word(off + 4), word(off + 12) as usize);
                let name = &buf[off + 16..off + 16 + len];
                let name = name.split(|b| *b == 0).next().unwrap_or_default();
                if mask & libc::IN_IGNORED != 0 {
                    break 'reading;
                }
                recorder.record(&String::from_utf8_lossy(name));
                off += 16 + len;
            }
        }
        // SAFETY: our fd, closed once.
        unsafe { libc::close(fd) };
    });
    seen
}
