//! policy/v1: PodDisruptionBudgets.

use jiff::Timestamp;
use serde_json::Value;

use super::{AGE, Column, NAME, Printer, age_of, at, col, int_at, name_of};

pub(super) const PDB_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Min Available",
        "The minimum number of pods that must be available.",
    ),
    col(
        "Max Unavailable",
        "The maximum number of pods that may be unavailable.",
    ),
    Column {
        name: "Allowed Disruptions",
        kind: "integer",
        format: "",
        description: "Calculated number of pods that may be disrupted at this time.",
        priority: 0,
    },
    AGE,
];

/// An `IntOrString` as its `String()` prints it; `N/A` when unset.
fn bound(pdb: &Value, path: &str) -> Value {
    Value::String(match at(pdb, path) {
        None | Some(Value::Null) => "N/A".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.as_i64().unwrap_or(0).to_string(),
    })
}

pub(super) fn pdb_cells(pdb: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_of(pdb),
        bound(pdb, "spec.minAvailable"),
        bound(pdb, "spec.maxUnavailable"),
        Value::from(int_at(pdb, "status.disruptionsAllowed")),
        age_of(pdb, now),
    ]
}

/// The table of PodDisruptionBudgets.
pub(crate) static PDB: Printer = Printer {
    columns: PDB_COLUMNS,
    cells: pdb_cells,
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_budget_prints_its_bounds_and_allowed_disruptions() {
        let now: Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        let pdb = json!({"metadata": {"name": "web", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"maxUnavailable": 1}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(
            pdb_cells(&pdb, now),
            vec![
                json!("web"),
                json!("N/A"),
                json!("1"),
                json!(1),
                json!("10m")
            ]
        );
        let pct = json!({"metadata": {"name": "db"}, "spec": {"minAvailable": "50%"}});
        let cells = pdb_cells(&pct, now);
        assert_eq!(cells[1], json!("50%"));
        assert_eq!(cells[3], json!(0));
        let names: Vec<&str> = PDB_COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "Name",
                "Min Available",
                "Max Unavailable",
                "Allowed Disruptions",
                "Age"
            ]
        );
    }
}
