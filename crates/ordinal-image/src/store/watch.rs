//! Change notification across processes: inotify on the store directory
//! sees the `generation` file renamed into place by any writer, so a pod
//! waiting for an image wakes when another process imports it.

use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use rustix::fs::inotify;
use tokio::sync::watch;

/// Starts a thread that follows the generation; it ends when the store
/// handle holding the returned sender is gone.
pub fn start(root: PathBuf, initial: u64) -> Arc<watch::Sender<u64>> {
    let (tx, _) = watch::channel(initial);
    let tx = Arc::new(tx);
    let weak = Arc::downgrade(&tx);
    let spawned = std::thread::Builder::new()
        .name("image-store-watch".into())
        .spawn(move || {
            if let Err(e) = follow(&root, &weak) {
                tracing::warn!(error = %e, "image store change notification stopped");
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot watch the image store");
    }
    tx
}

fn read_generation(root: &std::path::Path) -> u64 {
    std::fs::read_to_string(root.join("generation"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn follow(root: &std::path::Path, tx: &Weak<watch::Sender<u64>>) -> std::io::Result<()> {
    let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)?;
    inotify::add_watch(
        &fd,
        root,
        inotify::WatchFlags::MOVED_TO | inotify::WatchFlags::CLOSE_WRITE,
    )?;
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
    loop {
        let mut pfd = libc::pollfd {
            fd: fd.as_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let ready =
            unsafe { libc::poll(&mut pfd, 1, Duration::from_millis(500).as_millis() as i32) };
        let Some(tx) = tx.upgrade() else {
            return Ok(());
        };
        if ready > 0 {
            let mut reader = inotify::Reader::new(&fd, &mut buf);
            while reader.next().is_ok() {}
        }
        // Poll's timeout doubles as a safety net for missed events.
        let g = read_generation(root);
        tx.send_if_modified(|cur| {
            if *cur != g {
                *cur = g;
                true
            } else {
                false
            }
        });
    }
}
