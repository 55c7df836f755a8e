//! Table printers: the columns and cells `kubectl get` shows.
//!
//! kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints
//! whatever columns the server sends, so the server decides what `kubectl get`
//! looks like. These printers reproduce upstream's
//! (`pkg/printers/internalversion/printers.go`): the same column names, types,
//! priorities and descriptions, and the same cell text.
//!
//! Like upstream's server-side table convertor, every row carries the cells of
//! all columns, the `-o wide` ones (priority 1) included; kubectl hides the
//! wide ones unless asked.
//!
//! Printers read objects as `serde_json::Value`, so partial or oddly shaped
//! objects print (with upstream's placeholders) rather than fail. Where
//! upstream reads a field after defaulting or conversion to the internal type
//! (a Service's type, a port's protocol, a pod's IP), the printer applies the
//! same default.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::resources::Resource;

pub(crate) mod apps;
pub(crate) mod batch;
pub(crate) mod cluster;
pub(crate) mod config;
mod descriptions;
pub(crate) mod network;
pub(crate) mod pods;
pub(crate) mod policy;
pub(crate) mod rbac;
pub(crate) mod storage;

use descriptions as desc;

/// A column as meta.k8s.io/v1 `TableColumnDefinition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    /// The OpenAPI type: `string`, `integer`, `boolean`, `date`...
    pub kind: &'static str,
    /// `name` marks the column holding the object's name; `""` otherwise.
    pub format: &'static str,
    pub description: &'static str,
    /// 0: always shown; 1: only with `-o wide`.
    pub priority: i32,
}

impl Column {
    /// The JSON of this column in a Table's `columnDefinitions`.
    pub fn to_json(self) -> Value {
        json!({
            "name": self.name,
            "type": self.kind,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// Shorthand for a string column.
const fn col(name: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind: "string",
        format: "",
        description,
        priority: 0,
    }
}

/// Shorthand for a string column shown only with `-o wide`.
const fn wide(name: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind: "string",
        format: "",
        description,
        priority: 1,
    }
}

/// The name column every printer starts with (events put it last, as wide).
const NAME: Column = Column {
    name: "Name",
    kind: "string",
    format: "name",
    description: desc::META_NAME,
    priority: 0,
};

/// The age column: `HumanDuration` since `metadata.creationTimestamp`.
const AGE: Column = col("Age", desc::META_CREATED);

/// Upstream's default table convertor (`rest.NewDefaultTableConvertor`), for
/// resources without a printer: the name and the creation time, RFC 3339.
const DEFAULT_COLUMNS: &[Column] = &[
    NAME,
    Column {
        name: "Created At",
        kind: "date",
        format: "",
        description: desc::META_CREATED,
        priority: 0,
    },
];

/// A resource's table: its columns and how one object fills them. Each
/// resource's strategy names its printer.
#[derive(Debug)]
pub struct Printer {
    pub columns: &'static [Column],
    /// The cells of one object, in column order, every column included.
    pub cells: fn(&Value, Timestamp) -> Vec<Value>,
}

/// Upstream's default table, for resources without a printer.
pub(crate) static DEFAULT: Printer = Printer {
    columns: DEFAULT_COLUMNS,
    cells: |object, _| default_cells(object),
};

/// The columns of a resource, in order.
pub fn columns(resource: &Resource) -> &'static [Column] {
    resource.strategy.table_columns()
}

/// The cells of one object, in column order, every column included.
pub fn cells(resource: &Resource, object: &Value, now: Timestamp) -> Vec<Value> {
    resource.strategy.table_cells(object, now)
}

/// The `columnDefinitions` array of a Table of this resource.
pub fn column_definitions(resource: &Resource) -> Value {
    Value::Array(columns(resource).iter().map(|c| c.to_json()).collect())
}

/// The age of an object created at `creation_timestamp` (RFC 3339), as
/// upstream prints it; `<unknown>` when the timestamp is missing or invalid.
pub fn age(creation_timestamp: Option<&str>, now: Timestamp) -> String {
    since(creation_timestamp.and_then(parse_time), now)
}

/// apimachinery's `duration.HumanDuration`: about two or three significant
/// figures — `59s`, `119s`, `2m`, `9m59s`, `179m`, `3h5m`, `47h`, `2d3h`,
/// `400d`, `2y70d`, `8y`. Up to a second in the future counts as `0s`; further
/// is `<invalid>`.
pub fn human_duration(d: SignedDuration) -> String {
    const SECOND: i128 = 1_000_000_000;
    let nanos = d.as_nanos();
    // Go: int(d.Seconds()) truncates toward zero.
    let seconds = nanos / SECOND;
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{h}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        let dy = days % 365;
        return if dy == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{dy}d")
        };
    }
    format!("{years}y")
}

// ---------------------------------------------------------------------------
// Helpers shared by the printers.

/// Parses a `metav1.Time` / `metav1.MicroTime`. Go's zero time (how a missing
/// timestamp reads) counts as absent, as `IsZero()` does upstream.
fn parse_time(s: &str) -> Option<Timestamp> {
    let t: Timestamp = s.parse().ok()?;
    (t.as_second() != GO_ZERO_TIME).then_some(t)
}

/// `0001-01-01T00:00:00Z`, Go's zero `time.Time`, in Unix seconds.
const GO_ZERO_TIME: i64 = -62_135_596_800;

/// upstream's `translateTimestampSince`.
fn since(t: Option<Timestamp>, now: Timestamp) -> String {
    match t {
        Some(t) => human_duration(now.duration_since(t)),
        None => "<unknown>".into(),
    }
}

/// The value at a dotted path of object fields, if there.
fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, key| v.get(key))
}

/// The string at a path, `""` when absent or not a string (Go's zero value).
fn str_at<'a>(v: &'a Value, path: &str) -> &'a str {
    at(v, path).and_then(Value::as_str).unwrap_or("")
}

/// The integer at a path, 0 when absent.
fn int_at(v: &Value, path: &str) -> i64 {
    at(v, path).and_then(Value::as_i64).unwrap_or(0)
}

/// The array at a path, empty when absent.
fn array_at<'a>(v: &'a Value, path: &str) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The number of entries of the map at a path, 0 when absent.
fn map_len(v: &Value, path: &str) -> usize {
    at(v, path)
        .and_then(Value::as_object)
        .map_or(0, |m| m.len())
}

/// A timestamp at a path, parsed.
fn time_at(v: &Value, path: &str) -> Option<Timestamp> {
    at(v, path).and_then(Value::as_str).and_then(parse_time)
}

/// The Age cell: time since `metadata.creationTimestamp`.
fn age_of(object: &Value, now: Timestamp) -> Value {
    Value::String(since(time_at(object, "metadata.creationTimestamp"), now))
}

fn name_of(object: &Value) -> Value {
    Value::String(str_at(object, "metadata.name").to_string())
}

fn has_deletion_timestamp(object: &Value) -> bool {
    at(object, "metadata.deletionTimestamp").is_some_and(|v| !v.is_null())
}

/// An annotation's value, if set.
fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    at(object, "metadata.annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// upstream's `layoutContainerCells`: names and images, comma separated.
fn container_cells(pod_spec: Option<&Value>) -> (String, String) {
    let containers = pod_spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, "name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, "image")).collect();
    (names.join(","), images.join(","))
}

/// apimachinery's `labels.FormatLabels`: `k=v` pairs sorted by key, joined
/// with commas; `<none>` when empty.
fn format_labels(map: Option<&Value>) -> String {
    let Some(map) = map.and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return "<none>".into();
    };
    let mut pairs: Vec<(&String, &str)> = map
        .iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// upstream's `listWithMoreString`: at most three items, then ` + N more...`;
/// `<unset>` when there are none.
fn list_with_more(list: &[String], total: usize) -> String {
    const MAX: usize = 3;
    let shown = list.iter().take(MAX).cloned().collect::<Vec<_>>().join(",");
    if total > MAX {
        format!("{shown} + {} more...", total - MAX)
    } else if shown.is_empty() {
        "<unset>".into()
    } else {
        shown
    }
}

/// The default table convertor's cells: name and creation time, RFC 3339 UTC.
fn default_cells(object: &Value) -> Vec<Value> {
    let created = match time_at(object, "metadata.creationTimestamp") {
        Some(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => "0001-01-01T00:00:00Z".into(),
    };
    vec![name_of(object), Value::String(created)]
}

#[cfg(test)]
mod tests;
