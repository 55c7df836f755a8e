//! A pseudo-terminal for tests of `kubectl exec -it`.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;

/// A pseudo-terminal for kubectl: its master, and a thread collecting
/// what kubectl writes to it.
pub struct Terminal {
    master: std::fs::File,
    seen: Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Terminal {
    pub fn open(rows: u16, cols: u16) -> (Terminal, std::os::fd::OwnedFd) {
        use std::ffi::CStr;
        use std::os::fd::{FromRawFd, OwnedFd};
        // SAFETY: plain libc calls on descriptors owned here; checked.
        let (master, slave) = unsafe {
            let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
            assert!(m >= 0);
            assert_eq!(libc::grantpt(m), 0);
            assert_eq!(libc::unlockpt(m), 0);
            let mut name = [0 as libc::c_char; 128];
            assert_eq!(libc::ptsname_r(m, name.as_mut_ptr(), name.len()), 0);
            let s = libc::open(
                CStr::from_ptr(name.as_ptr()).as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            );
            assert!(s >= 0);
            (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s))
        };
        let master = std::fs::File::from(master);
        let terminal = Terminal {
            master,
            seen: Arc::default(),
        };
        terminal.resize(rows, cols);
        let mut reader = terminal.master.try_clone().unwrap();
        let seen = terminal.seen.clone();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        (terminal, slave)
    }

    pub fn resize(&self, rows: u16, cols: u16) {
        use std::os::fd::AsRawFd;
        let size = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize.
        assert_eq!(
            unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size) },
            0
        );
    }

    pub fn type_text(&self, text: &str) {
        use std::io::Write;
        (&self.master).write_all(text.as_bytes()).unwrap();
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }

    /// Runs `command` (kubectl) with this terminal as its controlling
    /// terminal and stdio, as an interactive shell would.
    pub fn spawn(&self, slave: std::os::fd::OwnedFd, mut command: Command) -> Child {
        use std::os::unix::process::CommandExt;
        command
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and ioctl are async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        command.spawn().expect("kubectl starts")
    }
}
