//! Pseudo-terminals for `kubectl exec -t`: the command gets the terminal
//! side as its stdin, stdout and stderr and as its controlling terminal (in
//! a session of its own), the server reads and writes the other side
//! without blocking, and resize messages set the window size, which sends
//! the command SIGWINCH.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The server's side of a pseudo-terminal. Clones share the descriptor:
/// one reads, one writes.
#[derive(Clone)]
pub struct PtyMaster {
    fd: Arc<AsyncFd<OwnedFd>>,
}

/// Opens a pseudo-terminal: the master (non-blocking, registered with the
/// runtime) and the terminal the command will use. Both descriptors are
/// close-on-exec, so no other child inherits them.
pub fn open() -> io::Result<(PtyMaster, OwnedFd)> {
    // SAFETY: plain libc calls on descriptors this function owns; every
    // return value is checked.
    unsafe {
        let master = check(libc::posix_openpt(
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC | libc::O_NONBLOCK,
        ))?;
        let master = OwnedFd::from_raw_fd(master);
        check(libc::grantpt(master.as_raw_fd()))?;
        check(libc::unlockpt(master.as_raw_fd()))?;
        let mut name = [0 as libc::c_char; 128];
        let ret = libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len());
        if ret != 0 {
            return Err(io::Error::from_raw_os_error(ret));
        }
        let path = CStr::from_ptr(name.as_ptr());
        let slave = check(libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        ))?;
        let slave = OwnedFd::from_raw_fd(slave);
        // The OwnedFd stays open and the same for the life of the AsyncFd.
        let master = AsyncFd::register(master).map_err(io::Error::from)?;
        Ok((
            PtyMaster {
                fd: Arc::new(master),
            },
            slave,
        ))
    }
}

/// Gives `command` the terminal as stdin, stdout and stderr, and makes it
/// the controlling terminal of a new session led by the command.
pub fn attach(command: &mut Command, terminal: &OwnedFd) -> io::Result<()> {
    command
        .stdin(Stdio::from(terminal.try_clone()?))
        .stdout(Stdio::from(terminal.try_clone()?))
        .stderr(Stdio::from(terminal.try_clone()?));
    // SAFETY: setsid and ioctl are async-signal-safe; nothing allocates.
    unsafe {
        command.pre_exec(|| {
            check(libc::setsid())?;
            check(libc::ioctl(0, libc::TIOCSCTTY as _, 0))?;
            Ok(())
        });
    }
    Ok(())
}

impl PtyMaster {
    /// Sets the terminal's window size.
    pub fn resize(&self, width: u16, height: u16) -> io::Result<()> {
        let size = libc::winsize {
            ws_row: height,
            ws_col: width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize from the pointer.
        check(unsafe { libc::ioctl(self.fd.get_ref().as_raw_fd(), libc::TIOCSWINSZ, &size) })?;
        Ok(())
    }
}

impl AsyncRead for PtyMaster {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            let result = guard.try_io(|fd| {
                // SAFETY: reads into the initialized unfilled part of buf.
                let n = unsafe {
                    libc::read(
                        fd.get_ref().as_raw_fd(),
                        unfilled.as_mut_ptr().cast(),
                        unfilled.len(),
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match result {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for PtyMaster {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            let result = guard.try_io(|fd| {
                // SAFETY: writes from a valid slice.
                let n = unsafe {
                    libc::write(fd.get_ref().as_raw_fd(), data.as_ptr().cast(), data.len())
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match result {
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_command_sees_a_terminal_of_the_size_set() {
        let (master, terminal) = open().unwrap();
        master.resize(100, 31).unwrap();
        let mut command = Command::new("sh");
        command.args(["-c", "tty; stty size; read line; echo got $line"]);
        attach(&mut command, &terminal).unwrap();
        let mut child = tokio::process::Command::from(command).spawn().unwrap();
        drop(terminal);
        let mut writer = master.clone();
        writer.write_all(b"hello\n").await.unwrap();
        let mut reader = master.clone();
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(std::time::Duration::from_secs(10), reader.read(&mut buf))
                .await
                .expect("output in time")
            {
                Ok(0) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
                Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(child.wait().await.unwrap().success());
        let text = String::from_utf8_lossy(&seen);
        assert!(text.contains("/dev/pts/"), "{text}");
        assert!(text.contains("31 100"), "{text}");
        assert!(text.contains("got hello"), "{text}");
    }
}
