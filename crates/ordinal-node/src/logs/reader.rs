//! Serving a container log file as `pods/log` asks: the options of
//! `PodLogOptions` read the way the kubelet reads them
//! (`kuberuntime/logs`), applied to the CRI records of one instance's file.
//!
//! - `tailLines=N` starts after the (N+1)-th newline from the end; without
//!   `follow` it also stops after N records.
//! - `sinceSeconds` / `sinceTime` skip records older than the bound.
//! - `timestamps` prefixes each record with its time, nine fraction digits.
//! - `limitBytes` cuts the output (timestamps included) at that many bytes.
//! - `follow` keeps reading as the file grows until the instance has ended
//!   and the file is read to its end.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use jiff::Timestamp;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc;

use super::format;
use super::writer::Follower;

/// How often a follower looks at the file even without a notification
/// (the kubelet's `logForceCheckPeriod`), for writers that do not notify.
const FORCE_CHECK: Duration = Duration::from_secs(1);

/// Bytes read from the file at a time.
const CHUNK: usize = 256 * 1024;

/// The options of one log request, as the kubelet decodes them from the
/// query (`PodLogOptions` in core/v1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    pub container: Option<String>,
    pub follow: bool,
    pub previous: bool,
    pub timestamps: bool,
    pub tail_lines: Option<i64>,
    pub limit_bytes: Option<i64>,
    pub since_seconds: Option<i64>,
    pub since_time: Option<Timestamp>,
}

/// Why a log query was refused: the kubelet answers these with 400 and
/// 422 and fixed texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    /// A value that does not decode (a tail that is not a number).
    #[error("unable to decode query: {0}")]
    Decode(String),
    /// Values that decode but are not allowed (a negative tail).
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// A boolean query value as apimachinery's query conversion reads it:
/// `0` and `false` (any case) are false, anything else is true.
fn query_bool(value: &str) -> bool {
    !(value == "0" || value.eq_ignore_ascii_case("false"))
}

fn query_int(key: &str, value: &str) -> Result<Option<i64>, OptionsError> {
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse::<i64>()
        .map(Some)
        .map_err(|_| OptionsError::Decode(format!("{key}={value:?} is not an integer")))
}

impl LogOptions {
    /// Decodes the query of `/containerLogs/...` (first value of each key,
    /// the legacy `tail` accepted as the kubelet does) and validates it.
    pub fn from_query(query: Option<&str>) -> Result<LogOptions, OptionsError> {
        let mut seen = std::collections::HashSet::new();
        let mut opts = LogOptions::default();
        let mut tail_legacy: Option<String> = None;
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if !seen.insert(key.clone().into_owned()) {
                continue;
            }
            match &*key {
                "container" => opts.container = Some(value.into_owned()),
                "follow" => opts.follow = query_bool(&value),
                "previous" => opts.previous = query_bool(&value),
                "timestamps" => opts.timestamps = query_bool(&value),
                "tailLines" => opts.tail_lines = query_int("tailLines", &value)?,
                "limitBytes" => opts.limit_bytes = query_int("limitBytes", &value)?,
                "sinceSeconds" => opts.since_seconds = query_int("sinceSeconds", &value)?,
                "sinceTime" if !value.is_empty() => {
                    let time = format::parse_rfc3339(value.as_bytes()).ok_or_else(|| {
                        OptionsError::Decode(format!("sinceTime={value:?} is not RFC 3339"))
                    })?;
                    opts.since_time = Some(time);
                }
                "tail" => tail_legacy = Some(value.into_owned()),
                _ => {}
            }
        }
        // The legacy `tail` wins over `tailLines`; `all` means no tail.
        if let Some(tail) = tail_legacy.filter(|t| !t.is_empty()) {
            opts.tail_lines = if tail == "all" {
                None
            } else {
                query_int("tail", &tail)?
            };
        }
        opts.validate()?;
        Ok(opts)
    }

    /// Upstream's `ValidatePodLogOptions`.
    pub fn validate(&self) -> Result<(), OptionsError> {
        if self.tail_lines.is_some_and(|t| t < 0) {
            return Err(OptionsError::Invalid(
                "tailLines: must be greater than or equal to 0".into(),
            ));
        }
        if self.limit_bytes.is_some_and(|b| b < 1) {
            return Err(OptionsError::Invalid(
                "limitBytes: must be greater than 0".into(),
            ));
        }
        match (self.since_seconds, self.since_time) {
            (Some(_), Some(_)) => Err(OptionsError::Invalid(
                "at most one of `sinceTime` or `sinceSeconds` may be specified".into(),
            )),
            (Some(s), None) if s < 1 => Err(OptionsError::Invalid(
                "sinceSeconds: must be greater than 0".into(),
            )),
            _ => Ok(()),
        }
    }

    /// The oldest record time to show, given the time of the request.
    pub fn since(&self, now: Timestamp) -> Option<Timestamp> {
        let by_seconds = self
            .since_seconds
            .and_then(|s| now.checked_sub(jiff::SignedDuration::from_secs(s)).ok());
        match (by_seconds, self.since_time) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Whether to go on after a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// Applies the options to records, one file line at a time: the part of
/// reading that needs no I/O.
#[derive(Debug, Clone)]
pub struct Shaper {
    since: Option<Timestamp>,
    timestamps: bool,
    remaining: u64,
    /// Records still to show when `tailLines` bounds the output.
    lines_left: Option<u64>,
}

impl Shaper {
    pub fn new(opts: &LogOptions, now: Timestamp) -> Shaper {
        Shaper {
            since: opts.since(now),
            timestamps: opts.timestamps,
            remaining: opts
                .limit_bytes
                .map_or(u64::MAX, |b| u64::try_from(b).unwrap_or(0)),
            lines_left: match (opts.tail_lines, opts.follow) {
                (Some(n), false) => Some(u64::try_from(n).unwrap_or(0)),
                _ => None,
            },
        }
    }

    /// Whether the output is complete before another line is read.
    pub fn done(&self) -> bool {
        self.lines_left == Some(0) || self.remaining == 0
    }

    /// Appends what `line` (one line of the file) contributes to `out`.
    pub fn line(&mut self, line: &[u8], out: &mut Vec<u8>) -> Flow {
        if self.done() {
            return Flow::Stop;
        }
        let Some(record) = format::parse(line) else {
            // The kubelet skips lines it cannot parse.
            return Flow::Continue;
        };
        if let Some(left) = &mut self.lines_left {
            *left -= 1;
        }
        if self.since.is_some_and(|since| record.time < since) {
            return if self.done() {
                Flow::Stop
            } else {
                Flow::Continue
            };
        }
        let start = out.len();
        if self.timestamps {
            format::write_rfc3339_nano(out, record.time, true);
            out.push(b' ');
        }
        out.extend_from_slice(record.content);
        let written = (out.len() - start) as u64;
        if written > self.remaining {
            out.truncate(start + self.remaining as usize);
            self.remaining = 0;
        } else {
            self.remaining -= written;
        }
        if self.done() {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }
}

/// Where reading starts for `tailLines = n`: just after the `n+1`-th
/// newline from the end, or the start of the file (upstream's
/// `FindTailLineStartIndex`).
pub fn tail_start<F: Read + Seek>(file: &mut F, n: Option<i64>) -> io::Result<u64> {
    let Some(n) = n.filter(|n| *n >= 0) else {
        return Ok(0);
    };
    let wanted = n as u64 + 1;
    let size = file.seek(SeekFrom::End(0))?;
    let mut end = size;
    let mut seen = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let block = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(block)?;
        for (i, &b) in block.iter().enumerate().rev() {
            if b == b'\n' {
                seen += 1;
                if seen == wanted {
                    return Ok(start + i as u64 + 1);
                }
            }
        }
        end = start;
    }
    Ok(0)
}

/// The content of the last `lines` records of a log, at most `max_bytes`
/// (the end kept): the kubelet's fallback termination message.
pub fn tail_text(path: &Path, lines: usize, max_bytes: usize) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let start = tail_start(&mut file, Some(lines as i64)).ok()?;
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut raw = Vec::new();
    file.read_to_end(&mut raw).ok()?;
    let mut text = Vec::new();
    for line in raw.split_inclusive(|b| *b == b'\n') {
        if let Some(record) = crate::logs::format::parse(line) {
            text.extend_from_slice(record.content);
        }
    }
    if text.len() > max_bytes {
        text.drain(..text.len() - max_bytes);
    }
    Some(String::from_utf8_lossy(&text).into_owned())
}

/// Reads the log `file` (opened by the caller, so that a missing file is
/// refused before a response starts) with `opts` and sends the output in
/// chunks to `out` until it is complete (or, following, until the instance
/// has ended and the file is read to its end). Returns early, without
/// error, when the receiver goes away.
pub async fn send_file(
    file: std::fs::File,
    opts: LogOptions,
    mut follower: Follower,
    out: mpsc::Sender<Bytes>,
) -> io::Result<()> {
    let tail = opts.tail_lines;
    let (std_file, start) = tokio::task::spawn_blocking(move || -> io::Result<_> {
        let mut file = file;
        let start = tail_start(&mut file, tail)?;
        Ok((file, start))
    })
    .await
    .map_err(io::Error::other)??;
    let mut file = tokio::fs::File::from_std(std_file);
    file.seek(SeekFrom::Start(start)).await?;

    let mut shaper = Shaper::new(&opts, Timestamp::now());
    let mut chunk = vec![0u8; CHUNK];
    let mut carry: Vec<u8> = Vec::new();
    let mut drained_after_end = false;
    loop {
        if shaper.done() {
            return Ok(());
        }
        let n = file.read(&mut chunk).await?;
        if n == 0 {
            if !opts.follow {
                // The last line has no newline: show it anyway.
                if !carry.is_empty() {
                    let mut output = Vec::new();
                    shaper.line(&carry, &mut output);
                    send(&out, output).await;
                }
                return Ok(());
            }
            if drained_after_end {
                return Ok(());
            }
            if follower.is_ended() {
                // Everything the instance wrote is in the file: one more
                // pass to its end.
                drained_after_end = true;
                continue;
            }
            tokio::select! {
                _ = follower.changed() => {}
                _ = tokio::time::sleep(FORCE_CHECK) => {}
                _ = out.closed() => return Ok(()),
            }
            continue;
        }
        let mut output = Vec::with_capacity(n + n / 4);
        let mut rest = &chunk[..n];
        let mut flow = Flow::Continue;
        if !carry.is_empty() {
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    carry.extend_from_slice(&rest[..=i]);
                    rest = &rest[i + 1..];
                    flow = shaper.line(&carry, &mut output);
                    carry.clear();
                }
                None => {
                    carry.extend_from_slice(rest);
                    rest = &[];
                }
            }
        }
        while flow == Flow::Continue {
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    flow = shaper.line(&rest[..=i], &mut output);
                    rest = &rest[i + 1..];
                }
                None => {
                    carry.extend_from_slice(rest);
                    break;
                }
            }
        }
        if !send(&out, output).await || flow == Flow::Stop {
            return Ok(());
        }
    }
}

/// Sends a non-empty chunk; false when the receiver is gone.
async fn send(out: &mpsc::Sender<Bytes>, output: Vec<u8>) -> bool {
    if output.is_empty() {
        return !out.is_closed();
    }
    out.send(Bytes::from(output)).await.is_ok()
}

/// Reads a whole log into memory with `opts` (never following), for the
/// tests.
#[cfg(test)]
pub async fn read_to_vec(path: &Path, mut opts: LogOptions) -> io::Result<Vec<u8>> {
    opts.follow = false;
    let file = std::fs::File::open(path)?;
    let (tx, mut rx) = mpsc::channel(16);
    let reader = tokio::spawn(send_file(file, opts, Follower::ended(), tx));
    let mut all = Vec::new();
    while let Some(chunk) = rx.recv().await {
        all.extend_from_slice(&chunk);
    }
    reader.await.map_err(io::Error::other)??;
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::format::{Stream, encode};
    use crate::logs::writer::ContainerLog;
    use std::io::Write;
    use std::path::PathBuf;

    fn t(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// A log of five lines a second apart from 10:00:00, then a line split
    /// in two records, on both streams.
    fn sample(dir: &Path) -> PathBuf {
        let mut out = Vec::new();
        for i in 0..5 {
            let stream = if i % 2 == 0 {
                Stream::Stdout
            } else {
                Stream::Stderr
            };
            encode(
                &mut out,
                t(&format!("2024-05-01T10:00:0{i}.5Z")),
                stream,
                false,
                format!("line {i}").as_bytes(),
            );
        }
        encode(
            &mut out,
            t("2024-05-01T10:00:06Z"),
            Stream::Stdout,
            true,
            b"split ",
        );
        encode(
            &mut out,
            t("2024-05-01T10:00:06Z"),
            Stream::Stdout,
            false,
            b"line",
        );
        let path = dir.join("0.log");
        std::fs::write(&path, out).unwrap();
        path
    }

    async fn read(path: &Path, opts: LogOptions) -> String {
        String::from_utf8(read_to_vec(path, opts).await.unwrap()).unwrap()
    }

    #[tokio::test]
    async fn everything_by_default_in_order_with_partials_joined() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        assert_eq!(
            read(&path, LogOptions::default()).await,
            "line 0\nline 1\nline 2\nline 3\nline 4\nsplit line\n"
        );
    }

    #[tokio::test]
    async fn tail_counts_records_from_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let tail = |n| LogOptions {
            tail_lines: Some(n),
            ..Default::default()
        };
        assert_eq!(read(&path, tail(0)).await, "");
        assert_eq!(read(&path, tail(1)).await, "line\n");
        assert_eq!(read(&path, tail(3)).await, "line 4\nsplit line\n");
        assert_eq!(read(&path, tail(100)).await.lines().count(), 6);
    }

    #[tokio::test]
    async fn timestamps_have_nine_fraction_digits() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let out = read(
            &path,
            LogOptions {
                timestamps: true,
                tail_lines: Some(2),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            out,
            "2024-05-01T10:00:06.000000000Z split 2024-05-01T10:00:06.000000000Z line\n"
        );
        let first = read(
            &path,
            LogOptions {
                timestamps: true,
                ..Default::default()
            },
        )
        .await;
        assert!(first.starts_with("2024-05-01T10:00:00.500000000Z line 0\n"));
    }

    #[tokio::test]
    async fn since_skips_older_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let out = read(
            &path,
            LogOptions {
                since_time: Some(t("2024-05-01T10:00:03Z")),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(out, "line 3\nline 4\nsplit line\n");
        // sinceSeconds counts back from now: a bound in the future of the
        // sample hides all of it, a large one shows all of it.
        let shaper = Shaper::new(
            &LogOptions {
                since_seconds: Some(10),
                ..Default::default()
            },
            t("2024-05-01T10:00:14Z"),
        );
        assert_eq!(shaper.since, Some(t("2024-05-01T10:00:04Z")));
        let recent = read(
            &path,
            LogOptions {
                since_seconds: Some(1),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(recent, "");
        let all = read(
            &path,
            LogOptions {
                since_seconds: Some(1_000_000_000),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(all.lines().count(), 6);
    }

    #[tokio::test]
    async fn limit_bytes_cuts_mid_line_and_counts_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample(dir.path());
        let limit = |n, timestamps| LogOptions {
            limit_bytes: Some(n),
            timestamps,
            ..Default::default()
        };
        assert_eq!(read(&path, limit(10, false)).await, "line 0\nlin");
        assert_eq!(read(&path, limit(7, false)).await, "line 0\n");
        assert_eq!(
            read(&path, limit(35, true)).await,
            "2024-05-01T10:00:00.500000000Z line"
        );
    }

    #[tokio::test]
    async fn malformed_lines_and_an_unfinished_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(
            b"garbage\n2024-05-01T10:00:00Z stdout F ok\n2024-05-01T10:00:01Z stdout F cut",
        )
        .unwrap();
        drop(f);
        assert_eq!(read(&path, LogOptions::default()).await, "ok\ncut");
        // An unfinished last line does not count for the tail; as
        // upstream, a bounded tail stops before it.
        let tail = LogOptions {
            tail_lines: Some(1),
            ..Default::default()
        };
        assert_eq!(read(&path, tail).await, "ok\n");
    }

    #[test]
    fn tail_start_across_blocks() {
        let mut data = Vec::new();
        for i in 0..50_000 {
            data.extend_from_slice(format!("{i}\n").as_bytes());
        }
        let mut cursor = std::io::Cursor::new(&data);
        let start = tail_start(&mut cursor, Some(3)).unwrap() as usize;
        assert_eq!(&data[start..], b"49997\n49998\n49999\n");
        assert_eq!(tail_start(&mut cursor, Some(1_000_000)).unwrap(), 0);
        assert_eq!(tail_start(&mut cursor, None).unwrap(), 0);
        assert_eq!(tail_start(&mut cursor, Some(0)).unwrap(), data.len() as u64);
    }

    #[tokio::test]
    async fn follow_streams_until_the_instance_ends() {
        let dir = tempfile::tempdir().unwrap();
        let log = ContainerLog::create(dir.path().join("0.log")).unwrap();
        let mut out = log.stream(Stream::Stdout);
        out.write(b"before\n").unwrap();
        let (tx, mut rx) = mpsc::channel(16);
        let reader = tokio::spawn(send_file(
            std::fs::File::open(log.path()).unwrap(),
            LogOptions {
                follow: true,
                tail_lines: Some(5),
                ..Default::default()
            },
            log.follower(),
            tx,
        ));
        let first = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&first[..], b"before\n");
        out.write(b"after\n").unwrap();
        let second = tokio::time::timeout(Duration::from_millis(900), rx.recv())
            .await
            .expect("a writer's append wakes the follower at once")
            .unwrap();
        assert_eq!(&second[..], b"after\n");
        out.write(b"last words\n").unwrap();
        log.end();
        let mut rest = Vec::new();
        while let Some(chunk) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("the follow ends")
        {
            rest.extend_from_slice(&chunk);
        }
        assert_eq!(rest, b"last words\n");
        reader.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_follower_stops_when_the_client_goes_away() {
        let dir = tempfile::tempdir().unwrap();
        let log = ContainerLog::create(dir.path().join("0.log")).unwrap();
        let (tx, rx) = mpsc::channel(1);
        let reader = tokio::spawn(send_file(
            std::fs::File::open(log.path()).unwrap(),
            LogOptions {
                follow: true,
                ..Default::default()
            },
            log.follower(),
            tx,
        ));
        drop(rx);
        tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .expect("the reader notices")
            .unwrap()
            .unwrap();
    }

    #[test]
    fn options_decode_as_the_kubelet_decodes_them() {
        let opts = LogOptions::from_query(Some(
            "follow=true&previous=1&timestamps=false&tailLines=10&limitBytes=5&sinceSeconds=3",
        ))
        .unwrap();
        assert!(opts.follow && opts.previous && !opts.timestamps);
        assert_eq!(opts.tail_lines, Some(10));
        assert_eq!(opts.limit_bytes, Some(5));
        assert_eq!(opts.since_seconds, Some(3));
        let legacy = LogOptions::from_query(Some("tailLines=10&tail=all")).unwrap();
        assert_eq!(legacy.tail_lines, None);
        let legacy = LogOptions::from_query(Some("tail=4")).unwrap();
        assert_eq!(legacy.tail_lines, Some(4));
        let since = LogOptions::from_query(Some("sinceTime=2024-05-01T10%3A00%3A03Z")).unwrap();
        assert_eq!(since.since_time, Some(t("2024-05-01T10:00:03Z")));
        assert!(matches!(
            LogOptions::from_query(Some("tailLines=x")),
            Err(OptionsError::Decode(_))
        ));
        for bad in [
            "tailLines=-1",
            "limitBytes=0",
            "sinceSeconds=0",
            "sinceSeconds=5&sinceTime=2024-05-01T10:00:03Z",
        ] {
            assert!(
                matches!(
                    LogOptions::from_query(Some(bad)),
                    Err(OptionsError::Invalid(_))
                ),
                "{bad}"
            );
        }
    }
}
