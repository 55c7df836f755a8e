//! Roles, ClusterRoles, RoleBindings and ClusterRoleBindings.

use jiff::Timestamp;
use serde_json::Value;

use super::{
    AGE, Column, DEFAULT_COLUMNS, NAME, Printer, age_of, array_at, col, name_of, str_at, wide,
};

/// Upstream's description of a binding's `roleRef` (it prints both kinds
/// of binding with the RoleBinding's columns).
const ROLE_REF: &str = "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";

/// Roles and ClusterRoles: the name and the creation time, RFC 3339 (the
/// same columns as the default table).
pub(crate) static ROLE: Printer = Printer {
    columns: DEFAULT_COLUMNS,
    cells: |object, _| super::default_cells(object),
};

pub(super) const BINDING_COLUMNS: &[Column] = &[
    NAME,
    col("Role", ROLE_REF),
    AGE,
    wide("Users", "Users in the roleBinding"),
    wide("Groups", "Groups in the roleBinding"),
    wide("ServiceAccounts", "ServiceAccounts in the roleBinding"),
];

/// upstream's `printRoleBinding`: `Kind/name` of the role, the age, and
/// (wide) the subjects by kind, service accounts as `namespace/name`.
pub(super) fn binding_cells(binding: &Value, now: Timestamp) -> Vec<Value> {
    let role = format!(
        "{}/{}",
        str_at(binding, "roleRef.kind"),
        str_at(binding, "roleRef.name")
    );
    let (mut users, mut groups, mut accounts) = (Vec::new(), Vec::new(), Vec::new());
    for subject in array_at(binding, "subjects") {
        let name = str_at(subject, "name").to_string();
        match str_at(subject, "kind") {
            "ServiceAccount" => {
                accounts.push(format!("{}/{name}", str_at(subject, "namespace")));
            }
            "User" => users.push(name),
            "Group" => groups.push(name),
            _ => {}
        }
    }
    vec![
        name_of(binding),
        Value::String(role),
        age_of(binding, now),
        Value::String(users.join(", ")),
        Value::String(groups.join(", ")),
        Value::String(accounts.join(", ")),
    ]
}

/// The table of RoleBindings and ClusterRoleBindings.
pub(crate) static BINDING: Printer = Printer {
    columns: BINDING_COLUMNS,
    cells: binding_cells,
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_binding_prints_its_role_and_subjects_by_kind() {
        let now: Timestamp = "2024-01-01T01:00:00Z".parse().unwrap();
        let binding = json!({
            "metadata": {"name": "read", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [
                {"kind": "User", "name": "jane"}, {"kind": "User", "name": "joe"},
                {"kind": "Group", "name": "system:masters"},
                {"kind": "ServiceAccount", "name": "default", "namespace": "team"},
            ],
        });
        assert_eq!(
            binding_cells(&binding, now),
            [
                json!("read"),
                json!("ClusterRole/view"),
                json!("60m"),
                json!("jane, joe"),
                json!("system:masters"),
                json!("team/default"),
            ]
        );
        let names: Vec<_> = BINDING_COLUMNS
            .iter()
            .map(|c| (c.name, c.priority))
            .collect();
        assert_eq!(
            names,
            [
                ("Name", 0),
                ("Role", 0),
                ("Age", 0),
                ("Users", 1),
                ("Groups", 1),
                ("ServiceAccounts", 1)
            ]
        );
    }

    #[test]
    fn a_role_prints_its_creation_time() {
        let role = json!({"metadata": {"name": "system:node", "creationTimestamp": "2024-01-01T00:00:00Z"}});
        let now: Timestamp = "2024-01-02T00:00:00Z".parse().unwrap();
        assert_eq!(
            (ROLE.cells)(&role, now),
            [json!("system:node"), json!("2024-01-01T00:00:00Z")]
        );
        assert_eq!(ROLE.columns[1].name, "Created At");
        assert_eq!(ROLE.columns[1].kind, "date");
    }
}
