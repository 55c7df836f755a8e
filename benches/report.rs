//! The one machine-readable line a benchmark prints for each figure,
//! besides its own human-readable output. `benches/run.sh` collects these
//! lines from every benchmark into the suite's table.
//!
//! Every benchmark includes this file with
//! `#[path = "<to the workspace>/benches/report.rs"] mod report;`: the
//! format lives in one place, and no crate has to depend on a helper crate
//! for a dozen lines.
//!
//! The line: `BENCH <id> <value> <unit> <op> <goal> <description>`, fields
//! separated by one space, the description being the rest of the line.
//! `<op>` is `<=` or `>=`, or `-` for a figure without a goal (whose
//! `<goal>` is then `-` too). A value of `nan` means the figure could not
//! be measured (a bounded wait ran out); it never meets its goal.

#![allow(dead_code)]

/// What a figure should be.
#[derive(Clone, Copy, Debug)]
pub enum Goal {
    /// At most this much (latency, memory).
    AtMost(f64),
    /// At least this much (throughput).
    AtLeast(f64),
    /// Shown for context; no issue sets a goal for it.
    None,
}

impl Goal {
    /// Whether `value` meets the goal; an unmeasured value never does.
    pub fn met(self, value: f64) -> bool {
        match self {
            _ if !value.is_finite() => false,
            Goal::AtMost(goal) => value <= goal,
            Goal::AtLeast(goal) => value >= goal,
            Goal::None => true,
        }
    }
}

/// Prints the figure's line and returns whether it met its goal. `id` and
/// `unit` are single words (`apiserver.list_wire`, `ms`).
pub fn figure(id: &str, value: f64, unit: &str, goal: Goal, description: &str) -> bool {
    assert!(
        !id.is_empty() && !id.contains(char::is_whitespace),
        "figure id {id:?} must be one word"
    );
    assert!(
        !unit.is_empty() && !unit.contains(char::is_whitespace),
        "unit {unit:?} must be one word"
    );
    let (op, target) = match goal {
        Goal::AtMost(g) => ("<=", number(g)),
        Goal::AtLeast(g) => (">=", number(g)),
        Goal::None => ("-", "-".to_string()),
    };
    let description = description.split_whitespace().collect::<Vec<_>>().join(" ");
    println!(
        "BENCH {id} {} {unit} {op} {target} {description}",
        number(value)
    );
    goal.met(value)
}

/// A figure known to be unmeasured (e.g. a bounded wait ran out).
pub fn unmeasured(id: &str, unit: &str, goal: Goal, description: &str) -> bool {
    figure(id, f64::NAN, unit, goal, description)
}

/// Milliseconds of a duration, the unit most figures use.
pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Microseconds of a duration.
pub fn us(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn number(v: f64) -> String {
    if v.is_finite() {
        // Enough digits for every figure here, trailing zeros trimmed.
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        "nan".to_string()
    }
}
