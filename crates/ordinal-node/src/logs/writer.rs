//! Writing a container instance's log file: the bytes of its stdout and
//! stderr become CRI records, as containerd's log redirection makes them.
//!
//! - A line becomes one `F` record (its trailing `\r\n` or `\n` dropped).
//! - A line longer than [`MAX_LINE`] is cut into `P` records of that size;
//!   its remainder ends in an `F` record.
//! - Output that stops without a newline (a prompt, a progress dot) is kept
//!   back for [`FLUSH_AFTER`] in case the line goes on, then written as a
//!   `P` record so followers see it; when the stream ends, what is left is a
//!   `P` record too (upstream: "a line that does not end with a newline is a
//!   partial line").
//!
//! The records of one read are written with one `write` call under the
//! file's lock, so stdout and stderr never interleave inside a record.
//! Followers are told of every append through a watch channel.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

use super::format::{self, Stream};

/// The longest content of one record (containerd's default
/// `max_container_log_line_size`, 16 KiB).
pub const MAX_LINE: usize = 16 * 1024;

/// How long an unfinished line waits for its newline before it is written
/// as a partial record.
pub const FLUSH_AFTER: Duration = Duration::from_millis(250);

/// The read buffer of a pump: where it starts, and how far it grows.
const READ_MIN: usize = 4 * 1024;
const READ_MAX: usize = 64 * 1024;

/// What followers of a log know about it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes written to the file so far by this writer.
    pub written: u64,
    /// The instance has ended: nothing more will be written.
    pub ended: bool,
}

struct Inner {
    path: PathBuf,
    file: Mutex<File>,
    progress: watch::Sender<Progress>,
}

/// The log file of one container instance, shared by the pumps of its
/// streams and the runtime that ends it.
#[derive(Clone)]
pub struct ContainerLog {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ContainerLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerLog")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl ContainerLog {
    /// Creates (or appends to) the log file at `path`, making its
    /// directory.
    pub fn create(path: impl Into<PathBuf>) -> io::Result<ContainerLog> {
        let path = path.into();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let (progress, _) = watch::channel(Progress::default());
        Ok(ContainerLog {
            inner: Arc::new(Inner {
                path,
                file: Mutex::new(file),
                progress,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// A line assembler for one stream of this log.
    pub fn stream(&self, stream: Stream) -> StreamWriter {
        StreamWriter {
            log: self.clone(),
            stream,
            pending: Vec::new(),
            max_line: MAX_LINE,
        }
    }

    /// Copies `reader` (a container's stdout or stderr) into the log until
    /// it ends, then writes what is left of an unfinished line. Returns the
    /// bytes read.
    pub async fn pump<R: AsyncRead + Unpin>(
        &self,
        stream: Stream,
        mut reader: R,
    ) -> io::Result<u64> {
        let mut writer = self.stream(stream);
        // Most containers write little: a small buffer, grown while reads
        // fill it. (A 64 KiB buffer per stream from the start was most of
        // the agent's memory with a thousand pods.)
        let mut buf = vec![0u8; READ_MIN];
        let mut total = 0u64;
        loop {
            let read = if writer.has_pending() {
                match tokio::time::timeout(FLUSH_AFTER, reader.read(&mut buf)).await {
                    Ok(read) => read,
                    Err(_) => {
                        writer.flush()?;
                        continue;
                    }
                }
            } else {
                reader.read(&mut buf).await
            };
            match read {
                Ok(0) => break,
                Ok(n) => {
                    total += n as u64;
                    writer.write(&buf[..n])?;
                    if n == buf.len() && buf.len() < READ_MAX {
                        buf.resize(buf.len() * 4, 0);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A pty master answers EIO once the last slave is closed:
                // that is the end of the stream.
                Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
                Err(e) => {
                    writer.flush()?;
                    return Err(e);
                }
            }
        }
        writer.flush()?;
        Ok(total)
    }

    /// Marks the instance ended: followers read to the end and stop.
    pub fn end(&self) {
        self.inner.progress.send_modify(|p| p.ended = true);
    }

    /// A handle that tells when the log grows and when the instance ends.
    pub fn follower(&self) -> Follower {
        Follower {
            progress: Some(self.inner.progress.subscribe()),
        }
    }

    fn append(&self, records: &[u8]) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        {
            let mut file = self.inner.file.lock().unwrap_or_else(|p| p.into_inner());
            file.write_all(records)?;
        }
        let len = records.len() as u64;
        self.inner.progress.send_modify(|p| p.written += len);
        Ok(())
    }
}

/// Turns the bytes of one stream into records.
pub struct StreamWriter {
    log: ContainerLog,
    stream: Stream,
    pending: Vec<u8>,
    max_line: usize,
}

impl StreamWriter {
    /// The same, with another longest record (tests use short ones).
    #[cfg(test)]
    pub fn with_max_line(mut self, max_line: usize) -> StreamWriter {
        self.max_line = max_line.max(1);
        self
    }

    /// Whether an unfinished line is held back.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Writes every finished line of `data` (and every full-size piece of
    /// a long one); keeps an unfinished rest for the next call.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let now = Timestamp::now();
        let mut out = Vec::with_capacity(data.len() + data.len() / 16 + 64);
        let mut rest = data;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            let mut line = &rest[..newline];
            rest = &rest[newline + 1..];
            if line.is_empty() && self.pending.last() == Some(&b'\r') {
                self.pending.pop();
            } else if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            self.emit_line(&mut out, now, line);
        }
        self.pending.extend_from_slice(rest);
        while self.pending.len() > self.max_line {
            let piece: Vec<u8> = self.pending.drain(..self.max_line).collect();
            format::encode(&mut out, now, self.stream, true, &piece);
        }
        self.log.append(&out)
    }

    /// Writes a held-back unfinished line as a partial record.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut out = Vec::with_capacity(self.pending.len() + 48);
        format::encode(&mut out, Timestamp::now(), self.stream, true, &self.pending);
        self.pending.clear();
        self.log.append(&out)
    }

    /// One finished line: the held-back start, then `line`, cut into
    /// records of at most `max_line` bytes, the last one `F`.
    fn emit_line(&mut self, out: &mut Vec<u8>, now: Timestamp, line: &[u8]) {
        if self.pending.is_empty() && line.len() <= self.max_line {
            format::encode(out, now, self.stream, false, line);
            return;
        }
        self.pending.extend_from_slice(line);
        let mut whole = std::mem::take(&mut self.pending);
        let mut start = 0;
        while whole.len() - start > self.max_line {
            format::encode(
                out,
                now,
                self.stream,
                true,
                &whole[start..start + self.max_line],
            );
            start += self.max_line;
        }
        format::encode(out, now, self.stream, false, &whole[start..]);
        whole.clear();
        self.pending = whole;
    }
}

/// Whether a log instance is still being written, for `follow`.
#[derive(Debug, Clone)]
pub struct Follower {
    progress: Option<watch::Receiver<Progress>>,
}

impl Follower {
    /// A follower of an instance that has already ended (a previous
    /// instance, a terminated container): `follow` stops at the end of the
    /// file.
    pub fn ended() -> Follower {
        Follower { progress: None }
    }

    /// Whether the instance has ended. A writer that went away without
    /// saying so counts as ended too.
    pub fn is_ended(&self) -> bool {
        match &self.progress {
            None => true,
            Some(rx) => rx.borrow().ended || rx.has_changed().is_err(),
        }
    }

    /// Waits until the log grows or the instance ends.
    pub async fn changed(&mut self) {
        if let Some(rx) = &mut self.progress
            && rx.changed().await.is_err()
        {
            self.progress = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::format::parse;

    fn records(path: &Path) -> Vec<(Stream, bool, String)> {
        std::fs::read(path)
            .unwrap()
            .split_inclusive(|&b| b == b'\n')
            .map(|line| {
                let r = parse(line).expect("every line is a record");
                (
                    r.stream,
                    r.partial,
                    String::from_utf8_lossy(r.content).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn lines_partial_lines_and_long_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = ContainerLog::create(dir.path().join("c/0.log")).unwrap();
        let mut out = log.stream(Stream::Stdout).with_max_line(8);
        out.write(b"one\ntw").unwrap();
        out.write(b"o\r\nthree is long\n").unwrap();
        out.write(b"0123456789abcdefXYZ").unwrap();
        out.write(b"\n").unwrap();
        out.write(b"prompt> ").unwrap();
        out.flush().unwrap();
        let mut err = log.stream(Stream::Stderr);
        err.write(b"oops\n").unwrap();
        assert_eq!(
            records(log.path()),
            vec![
                (Stream::Stdout, false, "one\n".into()),
                (Stream::Stdout, false, "two\n".into()),
                (Stream::Stdout, true, "three is".into()),
                (Stream::Stdout, false, " long\n".into()),
                (Stream::Stdout, true, "01234567".into()),
                (Stream::Stdout, true, "89abcdef".into()),
                (Stream::Stdout, false, "XYZ\n".into()),
                (Stream::Stdout, true, "prompt> ".into()),
                (Stream::Stderr, false, "oops\n".into()),
            ]
        );
    }

    #[test]
    fn a_carriage_return_split_from_its_newline_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let log = ContainerLog::create(dir.path().join("0.log")).unwrap();
        let mut out = log.stream(Stream::Stdout);
        out.write(b"tty line\r").unwrap();
        out.write(b"\n").unwrap();
        assert_eq!(
            records(log.path()),
            vec![(Stream::Stdout, false, "tty line\n".into())]
        );
    }

    #[tokio::test]
    async fn pumps_write_both_streams_and_flush_unfinished_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = ContainerLog::create(dir.path().join("0.log")).unwrap();
        let mut follower = log.follower();
        assert!(!follower.is_ended());
        let (mut tx, rx) = tokio::io::duplex(64);
        let pump = tokio::spawn({
            let log = log.clone();
            async move { log.pump(Stream::Stdout, rx).await }
        });
        use tokio::io::AsyncWriteExt;
        tx.write_all(b"hello\nwaiting for input: ").await.unwrap();
        // The unfinished line shows up after FLUSH_AFTER, without a newline.
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                follower.changed().await;
                if records(log.path()).len() == 2 {
                    break;
                }
            }
        })
        .await
        .expect("the partial line is flushed");
        tx.write_all(b"yes\n").await.unwrap();
        drop(tx);
        assert_eq!(pump.await.unwrap().unwrap(), 29);
        log.end();
        assert!(follower.is_ended());
        assert_eq!(
            records(log.path()),
            vec![
                (Stream::Stdout, false, "hello\n".into()),
                (Stream::Stdout, true, "waiting for input: ".into()),
                (Stream::Stdout, false, "yes\n".into()),
            ]
        );
    }

    #[tokio::test]
    async fn a_stream_that_ends_mid_line_leaves_a_partial_record() {
        let dir = tempfile::tempdir().unwrap();
        let log = ContainerLog::create(dir.path().join("0.log")).unwrap();
        log.pump(Stream::Stderr, &b"no newline at the end"[..])
            .await
            .unwrap();
        assert_eq!(
            records(log.path()),
            vec![(Stream::Stderr, true, "no newline at the end".into())]
        );
    }

    #[test]
    fn a_dropped_writer_counts_as_ended() {
        let dir = tempfile::tempdir().unwrap();
        let log = ContainerLog::create(dir.path().join("0.log")).unwrap();
        let follower = log.follower();
        assert!(!follower.is_ended());
        drop(log);
        assert!(follower.is_ended());
        assert!(Follower::ended().is_ended());
    }
}
