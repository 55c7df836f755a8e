//! A pseudo-terminal for kubectl (`kubectl exec -it`): the test holds the
//! master side, types into it and reads what kubectl writes; kubectl gets
//! the terminal as its stdin, stdout, stderr and controlling terminal.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// The master side of a pseudo-terminal, and a thread collecting what the
/// program on the other side writes.
pub struct Terminal {
    master: std::fs::File,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Terminal {
    /// Opens a terminal of `rows` × `cols`; returns it and the terminal
    /// side for the program.
    pub fn open(rows: u16, cols: u16) -> (Terminal, OwnedFd) {
        use std::ffi::CStr;
        use std::os::fd::FromRawFd;
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

    /// Gives `command` the terminal side as stdin, stdout and stderr and
    /// as the controlling terminal of a new session, as a shell would.
    pub fn attach(command: &mut Command, slave: &OwnedFd) {
        command
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()));
        // SAFETY: setsid and ioctl are async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    pub fn resize(&self, rows: u16, cols: u16) {
        let size = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        assert_eq!(
            // SAFETY: TIOCSWINSZ reads a winsize.
            unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size) },
            0
        );
    }

    pub fn type_text(&self, text: &str) {
        use std::io::Write;
        (&self.master).write_all(text.as_bytes()).unwrap();
    }

    /// Everything written to the terminal so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }
}
