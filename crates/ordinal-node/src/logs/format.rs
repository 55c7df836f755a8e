//! The CRI container log format, one record a line:
//!
//! ```text
//! 2016-10-06T00:17:09.669794202Z stdout P log content 1
//! 2016-10-06T00:17:09.669794203Z stderr F log content 2
//! ```
//!
//! A timestamp (RFC 3339 with nanoseconds), the stream, a tag (`P` for a
//! piece of a line that goes on in the next record, `F` for the end of a
//! line) and the content. This is what containerd and CRI-O write and what
//! the kubelet reads, so log files written here read the same way upstream's
//! tools read theirs.
//!
//! Timestamps are formatted and parsed by hand: every record needs one, and
//! the log throughput of `kubectl logs` is bounded by this code.

use jiff::Timestamp;

/// Which output of a container a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// One parsed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub time: Timestamp,
    pub stream: Stream,
    /// `P`: the line goes on in the next record of this stream.
    pub partial: bool,
    /// What the kubelet hands to the reader: a full record's content keeps
    /// the line's newline, a partial record's has none.
    pub content: &'a [u8],
}

/// Appends one record for `content` (without its newline) to `out`.
pub fn encode(out: &mut Vec<u8>, time: Timestamp, stream: Stream, partial: bool, content: &[u8]) {
    write_rfc3339_nano(out, time, false);
    out.push(b' ');
    out.extend_from_slice(stream.as_str().as_bytes());
    out.extend_from_slice(if partial { b" P " } else { b" F " });
    out.extend_from_slice(content);
    out.push(b'\n');
}

/// Parses one line of a log file (with or without its trailing newline).
/// `None` for a line that is not a CRI record; the kubelet skips those.
pub fn parse(line: &[u8]) -> Option<Record<'_>> {
    let first = line.iter().position(|&b| b == b' ')?;
    let time = parse_rfc3339(&line[..first])?;
    let rest = &line[first + 1..];
    let second = rest.iter().position(|&b| b == b' ')?;
    let stream = match &rest[..second] {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let rest = &rest[second + 1..];
    let third = rest.iter().position(|&b| b == b' ')?;
    // Tags are `:`-separated and forward compatible: the first one decides.
    let tags = &rest[..third];
    let first_tag = tags.split(|&b| b == b':').next().unwrap_or(b"");
    let partial = first_tag == b"P";
    let mut content = &rest[third + 1..];
    if partial && content.last() == Some(&b'\n') {
        content = &content[..content.len() - 1];
    }
    Some(Record {
        time,
        stream,
        partial,
        content,
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (`civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn push_digits(out: &mut Vec<u8>, value: i64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut v = value.unsigned_abs();
    let mut i = buf.len();
    while v > 0 {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let start = buf.len().saturating_sub(width).min(i);
    out.extend_from_slice(&buf[start..]);
}

/// Writes `time` in UTC as Go's RFC3339Nano (`fixed == false`: trailing
/// zeros of the fraction dropped, no fraction at all for whole seconds) or
/// as the kubelet's RFC3339NanoFixed (`fixed == true`: always nine digits).
pub fn write_rfc3339_nano(out: &mut Vec<u8>, time: Timestamp, fixed: bool) {
    let secs = time.as_second();
    let nanos = time.subsec_nanosecond();
    // A negative subsecond belongs to the second before.
    let (secs, nanos) = if nanos < 0 {
        (secs - 1, nanos + 1_000_000_000)
    } else {
        (secs, nanos)
    };
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    push_digits(out, y, 4);
    out.push(b'-');
    push_digits(out, m, 2);
    out.push(b'-');
    push_digits(out, d, 2);
    out.push(b'T');
    push_digits(out, of_day / 3600, 2);
    out.push(b':');
    push_digits(out, of_day / 60 % 60, 2);
    out.push(b':');
    push_digits(out, of_day % 60, 2);
    if fixed || nanos != 0 {
        let mut digits = Vec::with_capacity(9);
        push_digits(&mut digits, i64::from(nanos), 9);
        if !fixed {
            while digits.last() == Some(&b'0') {
                digits.pop();
            }
        }
        out.push(b'.');
        out.extend_from_slice(&digits);
    }
    out.push(b'Z');
}

/// `time` as RFC3339Nano text.
#[cfg(test)]
pub fn rfc3339_nano(time: Timestamp) -> String {
    let mut out = Vec::with_capacity(30);
    write_rfc3339_nano(&mut out, time, false);
    String::from_utf8(out).expect("ascii")
}

fn number(text: &[u8]) -> Option<i64> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        text.iter()
            .fold(0i64, |acc, &b| acc * 10 + i64::from(b - b'0')),
    )
}

/// Parses RFC 3339 as Go's lenient layout does: any number of fraction
/// digits (up to nine), `Z` or a numeric offset.
pub fn parse_rfc3339(text: &[u8]) -> Option<Timestamp> {
    if text.len() < 20 || text[4] != b'-' || text[7] != b'-' || text[13] != b':' {
        return None;
    }
    if !matches!(text[10], b'T' | b't') || text[16] != b':' {
        return None;
    }
    let year = number(&text[0..4])?;
    let month = number(&text[5..7])?;
    let day = number(&text[8..10])?;
    let hour = number(&text[11..13])?;
    let minute = number(&text[14..16])?;
    let second = number(&text[17..19])?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos = 0i64;
    if rest.first() == Some(&b'.') {
        let digits = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = number(&rest[1..1 + digits])? * 10i64.pow(9 - digits as u32);
        rest = &rest[1 + digits..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = number(&[*h1, *h2])?;
            let minutes = number(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if *sign == b'+' { seconds } else { -seconds }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Timestamp::new(secs, nanos as i32).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn records_encode_as_containerd_writes_them() {
        let mut out = Vec::new();
        encode(
            &mut out,
            ts("2016-10-06T00:17:09.669794202Z"),
            Stream::Stdout,
            true,
            b"log content 1",
        );
        encode(
            &mut out,
            ts("2016-10-06T00:17:09.6697942Z"),
            Stream::Stderr,
            false,
            b"log content 2",
        );
        encode(
            &mut out,
            ts("2016-10-06T00:17:10Z"),
            Stream::Stdout,
            false,
            b"",
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2016-10-06T00:17:09.669794202Z stdout P log content 1\n\
             2016-10-06T00:17:09.6697942Z stderr F log content 2\n\
             2016-10-06T00:17:10Z stdout F \n"
        );
    }

    #[test]
    fn parsing_keeps_the_newline_of_full_records_only() {
        let full = parse(b"2016-10-06T00:17:09.669794202Z stdout F hello\n").unwrap();
        assert_eq!(full.stream, Stream::Stdout);
        assert!(!full.partial);
        assert_eq!(full.content, b"hello\n");
        assert_eq!(full.time, ts("2016-10-06T00:17:09.669794202Z"));
        let part = parse(b"2016-10-06T00:17:09Z stderr P hel\n").unwrap();
        assert!(part.partial);
        assert_eq!(part.stream, Stream::Stderr);
        assert_eq!(part.content, b"hel");
        // Tags are forward compatible: only the first one counts.
        assert!(
            parse(b"2016-10-06T00:17:09Z stdout P:X content\n")
                .unwrap()
                .partial
        );
        // A content with spaces is kept whole.
        assert_eq!(
            parse(b"2016-10-06T00:17:09Z stdout F a b  c\n")
                .unwrap()
                .content,
            b"a b  c\n"
        );
    }

    #[test]
    fn malformed_lines_are_not_records() {
        for line in [
            &b""[..],
            b"hello world\n",
            b"2016-10-06T00:17:09Z stdin F x\n",
            b"2016-10-06T00:17:09Z stdout\n",
            b"2016-10-06T00:17:09Z stdout F",
            b"2016-13-06T00:17:09Z stdout F x\n",
            b"2016-10-06 00:17:09Z stdout F x\n",
            b"2016-10-06T00:17:09.1234567891Z stdout F x\n",
        ] {
            assert_eq!(parse(line), None, "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn offsets_and_short_fractions_parse_like_go() {
        assert_eq!(
            parse_rfc3339(b"2024-02-29T23:59:59.5+01:00").unwrap(),
            ts("2024-02-29T22:59:59.5Z")
        );
        assert_eq!(
            parse_rfc3339(b"1969-12-31T23:59:59.25Z").unwrap(),
            ts("1969-12-31T23:59:59.25Z")
        );
    }

    #[test]
    fn fixed_format_always_has_nine_digits() {
        let mut out = Vec::new();
        write_rfc3339_nano(&mut out, ts("2024-01-02T03:04:05.1Z"), true);
        assert_eq!(out, b"2024-01-02T03:04:05.100000000Z");
        out.clear();
        write_rfc3339_nano(&mut out, ts("2024-01-02T03:04:05Z"), true);
        assert_eq!(out, b"2024-01-02T03:04:05.000000000Z");
    }

    proptest! {
        #[test]
        fn formatting_round_trips_and_agrees_with_jiff(
            secs in -2_000_000_000i64..8_000_000_000i64,
            nanos in 0i32..1_000_000_000,
        ) {
            let time = Timestamp::new(secs, nanos).unwrap();
            let text = rfc3339_nano(time);
            prop_assert_eq!(parse_rfc3339(text.as_bytes()), Some(time));
            prop_assert_eq!(text.parse::<Timestamp>().unwrap(), time);
            let mut fixed = Vec::new();
            write_rfc3339_nano(&mut fixed, time, true);
            prop_assert_eq!(parse_rfc3339(&fixed), Some(time));
        }

        #[test]
        fn any_content_survives_a_record(
            content in proptest::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..200),
            partial: bool,
        ) {
            let time = Timestamp::new(1_700_000_000, 5).unwrap();
            let mut out = Vec::new();
            encode(&mut out, time, Stream::Stderr, partial, &content);
            let record = parse(&out).unwrap();
            prop_assert_eq!(record.time, time);
            prop_assert_eq!(record.partial, partial);
            let mut expected = content.clone();
            if !partial {
                expected.push(b'\n');
            }
            prop_assert_eq!(record.content, &expected[..]);
        }
    }
}
