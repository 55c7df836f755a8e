//! Cron schedules as CronJobs write them: the five standard fields
//! (minute, hour, day of month, month, day of week) and the descriptors
//! (`@hourly`, `@daily`, `@every 90m` …), read the way upstream's parser
//! (robfig/cron's `ParseStandard`) reads them, with its error messages, so
//! the API server refuses what a cluster refuses and the CronJob
//! controller fires when a cluster's would.
//!
//! ```
//! use ordinal_core::cron::Schedule;
//! let every_quarter = Schedule::parse("*/15 * * * *").unwrap();
//! let tz = jiff::tz::TimeZone::UTC;
//! let t: jiff::Timestamp = "2024-01-01T10:07:30Z".parse().unwrap();
//! assert_eq!(every_quarter.next(t, &tz).unwrap().to_string(), "2024-01-01T10:15:00Z");
//! assert_eq!(
//!     Schedule::parse("61 * * * *").unwrap_err(),
//!     "end of range (61) above maximum (59): 61"
//! );
//! ```

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    kind: Kind,
    /// The zone a `TZ=` or `CRON_TZ=` prefix named, if any.
    zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// One bit per allowed value; bit 63 marks a field written `*` or `?`.
    Spec {
        minute: u64,
        hour: u64,
        dom: u64,
        month: u64,
        dow: u64,
    },
    /// `@every <duration>`: whole seconds, at least one.
    Every(i64),
}

const STAR: u64 = 1 << 63;

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

impl Schedule {
    /// Parses a standard schedule; the error is upstream's message.
    pub fn parse(spec: &str) -> Result<Schedule, String> {
        if spec.is_empty() {
            return Err("empty spec string".into());
        }
        let mut spec = spec;
        let mut zone = None;
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            let eq = spec.find('=').unwrap_or(0);
            let Some(space) = spec.find(' ') else {
                return Err(format!("provided bad location {}", &spec[eq + 1..]));
            };
            let name = &spec[eq + 1..space];
            if let Err(e) = load_zone(name) {
                return Err(format!("provided bad location {name}: {e}"));
            }
            zone = Some(name.to_string());
            spec = spec[space..].trim();
        }
        let kind = if spec.starts_with('@') {
            descriptor(spec)?
        } else {
            let fields: Vec<&str> = spec.split_whitespace().collect();
            if fields.len() != 5 {
                return Err(format!(
                    "expected exactly 5 fields, found {}: [{}]",
                    fields.len(),
                    fields.join(" ")
                ));
            }
            Kind::Spec {
                minute: field(fields[0], &MINUTES)?,
                hour: field(fields[1], &HOURS)?,
                dom: field(fields[2], &DOM)?,
                month: field(fields[3], &MONTHS)?,
                dow: field(fields[4], &DOW)?,
            }
        };
        Ok(Schedule { kind, zone })
    }

    /// The zone named in the schedule itself (`CRON_TZ=…`), if any.
    pub fn zone(&self) -> Option<&str> {
        self.zone.as_deref()
    }

    /// The first activation strictly after `after`, the fields read as
    /// wall-clock time in `tz` (or the schedule's own zone); `None` when
    /// there is none within five years (a 30th of February).
    pub fn next(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        match &self.kind {
            Kind::Every(seconds) => {
                let whole = after.as_second();
                Some(Timestamp::from_second(whole.checked_add(*seconds)?).ok()?)
            }
            Kind::Spec {
                minute,
                hour,
                dom,
                month,
                dow,
            } => {
                let own;
                let tz = match self.zone.as_deref().and_then(|z| load_zone(z).ok()) {
                    Some(z) => {
                        own = z;
                        &own
                    }
                    None => tz,
                };
                let start = tz.to_datetime(after);
                let mut t = start
                    .with()
                    .second(0)
                    .subsec_nanosecond(0)
                    .build()
                    .ok()?
                    .checked_add(1.minute())
                    .ok()?;
                let limit = start.year() + 5;
                while t.year() <= limit {
                    if !has(*month, t.month() as u32) {
                        t = first_of_next_month(t.date())?;
                        continue;
                    }
                    if !day_matches(*dom, *dow, t.date()) {
                        t = t
                            .date()
                            .tomorrow()
                            .ok()?
                            .to_datetime(jiff::civil::Time::midnight());
                        continue;
                    }
                    if !has(*hour, t.hour() as u32) {
                        t = t
                            .with()
                            .minute(0)
                            .build()
                            .ok()?
                            .checked_add(1.hour())
                            .ok()?;
                        continue;
                    }
                    if !has(*minute, t.minute() as u32) {
                        t = t.checked_add(1.minute()).ok()?;
                        continue;
                    }
                    let at = tz.to_ambiguous_timestamp(t).compatible().ok()?;
                    if at > after {
                        return Some(at);
                    }
                    t = t.checked_add(1.minute()).ok()?;
                }
                None
            }
        }
    }
}

fn first_of_next_month(d: Date) -> Option<DateTime> {
    let first = d.first_of_month().checked_add(1.month()).ok()?;
    Some(first.to_datetime(jiff::civil::Time::midnight()))
}

fn has(bits: u64, value: u32) -> bool {
    bits & (1 << value) != 0
}

/// Upstream's rule: when either day field is a star, both must match;
/// otherwise either may.
fn day_matches(dom: u64, dow: u64, d: Date) -> bool {
    let by_dom = has(dom, d.day() as u32);
    let by_dow = has(dow, d.weekday().to_sunday_zero_offset() as u32);
    if dom & STAR != 0 || dow & STAR != 0 {
        by_dom && by_dow
    } else {
        by_dom || by_dow
    }
}

/// Loads an IANA zone as Go's `time.LoadLocation` does, with its error.
pub fn load_zone(name: &str) -> Result<TimeZone, String> {
    match name {
        "" | "UTC" => return Ok(TimeZone::UTC),
        _ => {}
    }
    TimeZone::get(name).map_err(|_| format!("unknown time zone {name}"))
}

fn descriptor(spec: &str) -> Result<Kind, String> {
    let spec_of = |m: &str, h: &str, dom: &str, mon: &str, dow: &str| -> Kind {
        // The descriptors are fixed, valid specs.
        Kind::Spec {
            minute: field(m, &MINUTES).unwrap_or(1),
            hour: field(h, &HOURS).unwrap_or(1),
            dom: field(dom, &DOM).unwrap_or(2),
            month: field(mon, &MONTHS).unwrap_or(2),
            dow: field(dow, &DOW).unwrap_or(1),
        }
    };
    match spec {
        "@yearly" | "@annually" => return Ok(spec_of("0", "0", "1", "1", "*")),
        "@monthly" => return Ok(spec_of("0", "0", "1", "*", "*")),
        "@weekly" => return Ok(spec_of("0", "0", "*", "*", "0")),
        "@daily" | "@midnight" => return Ok(spec_of("0", "0", "*", "*", "*")),
        "@hourly" => return Ok(spec_of("0", "*", "*", "*", "*")),
        _ => {}
    }
    if let Some(text) = spec.strip_prefix("@every ") {
        let d = go_duration(text).map_err(|e| format!("failed to parse duration {spec}: {e}"))?;
        // Rounded down to whole seconds, at least one.
        let seconds = d.as_secs().max(1);
        return Ok(Kind::Every(seconds));
    }
    Err(format!("unrecognized descriptor: {spec}"))
}

/// One comma-separated field.
fn field(text: &str, bounds: &Bounds) -> Result<u64, String> {
    let mut bits = 0;
    for expr in text.split(',').filter(|e| !e.is_empty()) {
        bits |= range(expr, bounds)?;
    }
    Ok(bits)
}

fn range(expr: &str, b: &Bounds) -> Result<u64, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end, mut extra) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        (b.min, b.max, STAR)
    } else {
        let start = int_or_name(low_and_high[0], b)?;
        let end = match low_and_high.len() {
            1 => start,
            2 => int_or_name(low_and_high[1], b)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        (start, end, 0)
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = must_int(range_and_step[1])?;
            if single {
                end = b.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < b.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            b.min
        ));
    }
    if end > b.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            b.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    let mut bits = 0u64;
    let mut v = start;
    while v <= end {
        bits |= 1 << v;
        v += step;
    }
    Ok(bits | extra)
}

fn int_or_name(expr: &str, b: &Bounds) -> Result<u32, String> {
    let lower = expr.to_ascii_lowercase();
    if let Some((_, v)) = b.names.iter().find(|(n, _)| *n == lower) {
        return Ok(*v);
    }
    must_int(expr)
}

/// Go's `strconv.Atoi`, then non-negative.
fn must_int(expr: &str) -> Result<u32, String> {
    let digits = expr.strip_prefix(['+', '-']).unwrap_or(expr);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {}: invalid syntax",
            crate::go_text::quote(expr)
        ));
    }
    let n: i64 = match expr.parse::<i64>() {
        Ok(n) => n,
        Err(_) => {
            return Err(format!(
                "failed to parse int from {expr}: strconv.Atoi: parsing {}: value out of range",
                crate::go_text::quote(expr)
            ));
        }
    };
    if n < 0 {
        return Err(format!("negative number ({n}) not allowed: {expr}"));
    }
    // Past the largest bit a field has: reported as out of range by the
    // bounds check.
    Ok(u32::try_from(n).unwrap_or(u32::MAX).min(1000))
}

/// Go's `time.ParseDuration`, for `@every`.
fn go_duration(text: &str) -> Result<SignedDuration, String> {
    let invalid = || format!("time: invalid duration {}", crate::go_text::quote(text));
    let mut s = text;
    let negative = s.starts_with('-');
    s = s.strip_prefix(['+', '-']).unwrap_or(s);
    if s == "0" {
        return Ok(SignedDuration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !s.is_empty() {
        let number_len = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let number = &s[..number_len];
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        s = &s[number_len..];
        let unit_len = s
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(s.len());
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let nanos = match unit {
            "" => {
                return Err(format!(
                    "time: missing unit in duration {}",
                    crate::go_text::quote(text)
                ));
            }
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            other => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    crate::go_text::quote(other),
                    crate::go_text::quote(text)
                ));
            }
        };
        total += value * nanos;
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    let nanos = if negative { -total } else { total } as i64;
    Ok(SignedDuration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn next(spec: &str, after: &str) -> String {
        Schedule::parse(spec)
            .unwrap()
            .next(ts(after), &TimeZone::UTC)
            .unwrap()
            .to_string()
    }

    #[test]
    fn standard_fields_and_descriptors() {
        assert_eq!(
            next("* * * * *", "2024-01-01T10:07:30Z"),
            "2024-01-01T10:08:00Z"
        );
        assert_eq!(
            next("* * * * *", "2024-01-01T10:07:00Z"),
            "2024-01-01T10:08:00Z"
        );
        assert_eq!(
            next("30 6-16/4 * * 1-5", "2024-01-06T00:00:00Z"),
            "2024-01-08T06:30:00Z"
        );
        assert_eq!(
            next("@hourly", "2024-01-01T10:07:00Z"),
            "2024-01-01T11:00:00Z"
        );
        assert_eq!(
            next("@daily", "2024-01-01T10:07:00Z"),
            "2024-01-02T00:00:00Z"
        );
        assert_eq!(
            next("@weekly", "2024-01-01T10:07:00Z"),
            "2024-01-07T00:00:00Z"
        );
        assert_eq!(
            next("@monthly", "2024-01-31T10:07:00Z"),
            "2024-02-01T00:00:00Z"
        );
        assert_eq!(
            next("@yearly", "2024-01-31T10:07:00Z"),
            "2025-01-01T00:00:00Z"
        );
        assert_eq!(
            next("0 0 * feb sun", "2024-01-31T10:07:00Z"),
            "2024-02-04T00:00:00Z"
        );
        // Both day fields restricted: either matches.
        assert_eq!(
            next("0 0 13 * 5", "2024-09-01T00:00:00Z"),
            "2024-09-06T00:00:00Z"
        );
        assert_eq!(
            next("@every 90s", "2024-01-01T10:07:00.5Z"),
            "2024-01-01T10:08:30Z"
        );
        assert!(
            Schedule::parse("0 0 30 2 *")
                .unwrap()
                .next(ts("2024-01-01T00:00:00Z"), &TimeZone::UTC)
                .is_none()
        );
    }

    #[test]
    fn wall_clock_in_the_zone() {
        let paris = load_zone("Europe/Paris").unwrap();
        let s = Schedule::parse("0 3 * * *").unwrap();
        // 03:00 in Paris in summer is 01:00 UTC.
        assert_eq!(
            s.next(ts("2024-07-01T12:00:00Z"), &paris)
                .unwrap()
                .to_string(),
            "2024-07-02T01:00:00Z"
        );
        let own = Schedule::parse("CRON_TZ=Europe/Paris 0 3 * * *").unwrap();
        assert_eq!(own.zone(), Some("Europe/Paris"));
        assert_eq!(
            own.next(ts("2024-07-01T12:00:00Z"), &TimeZone::UTC)
                .unwrap()
                .to_string(),
            "2024-07-02T01:00:00Z"
        );
    }

    #[test]
    fn upstream_messages() {
        let err = |s: &str| Schedule::parse(s).unwrap_err();
        assert_eq!(err(""), "empty spec string");
        assert_eq!(
            err("* * * *"),
            "expected exactly 5 fields, found 4: [* * * *]"
        );
        assert_eq!(
            err("61 * * * *"),
            "end of range (61) above maximum (59): 61"
        );
        assert_eq!(
            err("* * 0 * *"),
            "beginning of range (0) below minimum (1): 0"
        );
        assert_eq!(
            err("5-1 * * * *"),
            "beginning of range (5) beyond end of range (1): 5-1"
        );
        assert_eq!(
            err("*/0 * * * *"),
            "step of range should be a positive number: */0"
        );
        assert_eq!(err("1-2-3 * * * *"), "too many hyphens: 1-2-3");
        assert_eq!(err("1/2/3 * * * *"), "too many slashes: 1/2/3");
        assert_eq!(
            err("x * * * *"),
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(err("@often"), "unrecognized descriptor: @often");
        assert_eq!(
            err("@every x"),
            "failed to parse duration @every x: time: invalid duration \"x\""
        );
        assert_eq!(err("* * * * 7"), "end of range (7) above maximum (6): 7");
        assert_eq!(
            err("CRON_TZ=Nowhere/Land * * * * *"),
            "provided bad location Nowhere/Land: unknown time zone Nowhere/Land"
        );
    }

    proptest! {
        /// The next activation is after the given time, matches the
        /// fields, and nothing between the two does.
        #[test]
        fn next_is_the_first_match(minute in 0u32..60, hour in 0u32..24, step in 1u32..30, secs in 0i64..400_000_000) {
            let spec = format!("{minute}/{step} {hour}-23 * * *");
            let s = Schedule::parse(&spec).unwrap();
            let after = Timestamp::from_second(1_600_000_000 + secs).unwrap();
            let n = s.next(after, &TimeZone::UTC).unwrap();
            prop_assert!(n > after);
            let dt = TimeZone::UTC.to_datetime(n);
            prop_assert_eq!(dt.second(), 0);
            prop_assert!(dt.minute() as u32 >= minute && (dt.minute() as u32 - minute).is_multiple_of(step));
            prop_assert!(dt.hour() as u32 >= hour);
            let mut probe = after.as_second() / 60 * 60 + 60;
            while probe < n.as_second() {
                let d = TimeZone::UTC.to_datetime(Timestamp::from_second(probe).unwrap());
                let fits = d.minute() as u32 >= minute
                    && (d.minute() as u32 - minute).is_multiple_of(step)
                    && d.hour() as u32 >= hour;
                prop_assert!(!fits, "{} matches before {}", probe, n);
                probe += 60;
            }
        }
    }
}
