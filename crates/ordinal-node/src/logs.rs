//! Container log files in the CRI format kubelet reads:
//! `<RFC 3339 nano timestamp> <stdout|stderr> <F|P> <text>` per line, `P`
//! marking a line the container has not finished (a partial write, or a
//! line longer than [`MAX_LINE`]).

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Longest line written in one record; longer ones are split into `P`
/// records, as kubelet does at 16 KiB.
pub const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

struct Inner {
    file: std::fs::File,
    /// Unfinished line per stream (stdout, stderr).
    pending: [Vec<u8>; 2],
}

/// Appends both output streams of one container instance to its log file.
#[derive(Clone)]
pub struct Writer {
    inner: Arc<Mutex<Inner>>,
}

fn slot(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl Writer {
    pub fn create(path: &Path) -> std::io::Result<Writer> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Writer {
            inner: Arc::new(Mutex::new(Inner {
                file,
                pending: [Vec::new(), Vec::new()],
            })),
        })
    }

    /// Records what the container wrote; whole lines are written at once,
    /// the rest waits for its newline.
    pub fn write(&self, stream: Stream, bytes: &[u8]) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Inner { file, pending } = &mut *inner;
        let buf = &mut pending[slot(stream)];
        buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(nl) = buf[start..].iter().position(|&b| b == b'\n') {
            let line = &buf[start..start + nl];
            record(&mut out, stream, line, true);
            start += nl + 1;
        }
        buf.drain(..start);
        while buf.len() >= MAX_LINE {
            record(&mut out, stream, &buf[..MAX_LINE], false);
            buf.drain(..MAX_LINE);
        }
        if !out.is_empty() {
            let _ = file.write_all(&out);
        }
    }

    /// The stream has ended: a last unfinished line is written as it is.
    pub fn finish(&self, stream: Stream) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Inner { file, pending } = &mut *inner;
        let buf = std::mem::take(&mut pending[slot(stream)]);
        if !buf.is_empty() {
            let mut out = Vec::new();
            record(&mut out, stream, &buf, true);
            let _ = file.write_all(&out);
        }
    }
}

fn record(out: &mut Vec<u8>, stream: Stream, line: &[u8], full: bool) {
    let now = jiff::Timestamp::now();
    let _ = write!(
        out,
        "{} {} {} ",
        now,
        stream.as_str(),
        if full { "F" } else { "P" }
    );
    out.extend_from_slice(line);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_partial_writes_and_long_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        let w = Writer::create(&path).unwrap();
        w.write(Stream::Stdout, b"hel");
        w.write(Stream::Stderr, b"oops\n");
        w.write(Stream::Stdout, b"lo\nwor");
        w.finish(Stream::Stdout);
        w.write(Stream::Stdout, &vec![b'x'; MAX_LINE + 3]);
        w.finish(Stream::Stdout);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<(&str, &str, &str)> = text
            .lines()
            .map(|l| {
                let mut p = l.splitn(4, ' ');
                let _ts = p.next().unwrap();
                (p.next().unwrap(), p.next().unwrap(), p.next().unwrap_or(""))
            })
            .collect();
        assert_eq!(lines[0], ("stderr", "F", "oops"));
        assert_eq!(lines[1], ("stdout", "F", "hello"));
        assert_eq!(lines[2], ("stdout", "F", "wor"));
        assert_eq!(lines[3].1, "P");
        assert_eq!(lines[3].2.len(), MAX_LINE);
        assert_eq!(lines[4], ("stdout", "F", "xxx"));
    }
}
