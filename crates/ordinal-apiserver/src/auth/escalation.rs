//! RBAC escalation prevention: a role may only grant what its writer holds,
//! and a binding only bind a role whose rules its writer holds, unless the
//! writer has the `escalate` (roles) or `bind` (bindings) verb, as upstream's
//! `ConfirmNoEscalation` and `BindingAuthorized`.
//!
//! Creates and replaces are checked against the object written. A patch of
//! a role or binding needs `escalate` or `bind` outright (upstream checks the
//! patched result instead).

use ordinal_store::Snapshot;
use serde_json::Value;

use super::attributes::{Attributes, ResourceAttributes};
use super::rbac::{self, GROUP, PolicyRule};
use super::{UserInfo, authorize};
use crate::status::ApiError;

/// Whether a write of `plural` must pass the check.
pub fn applies(group: &str, plural: &str) -> bool {
    group == GROUP
        && matches!(
            plural,
            "roles" | "clusterroles" | "rolebindings" | "clusterrolebindings"
        )
}

/// Checks a write of `object` (`None` for a patch) to `plural` in
/// `namespace` by `user`.
pub fn check(
    snapshot: &Snapshot,
    user: &UserInfo,
    plural: &str,
    namespace: &str,
    name: &str,
    object: Option<&Value>,
) -> Result<(), ApiError> {
    if user.is_master() {
        return Ok(());
    }
    let is_role = matches!(plural, "roles" | "clusterroles");
    let may = |verb: &str, resource: &str, ns: &str, target: &str| {
        authorize(
            snapshot,
            user,
            &Attributes::Resource(ResourceAttributes {
                verb: verb.into(),
                group: GROUP.into(),
                resource: resource.into(),
                namespace: ns.into(),
                name: target.into(),
                ..Default::default()
            }),
        )
    };
    let wanted: Vec<PolicyRule> = match (is_role, object) {
        (true, _) if may("escalate", plural, namespace, name) => return Ok(()),
        (true, Some(role)) => rbac::rules_of(role),
        (false, Some(binding)) => {
            let kind = binding
                .pointer("/roleRef/kind")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let role_name = binding
                .pointer("/roleRef/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let (role_plural, role_ns) = if kind == "Role" {
                ("roles", namespace)
            } else {
                ("clusterroles", "")
            };
            if may("bind", role_plural, role_ns, role_name) {
                return Ok(());
            }
            let Some(resource) = crate::resources::by_plural(GROUP, role_plural) else {
                return Ok(());
            };
            let ns = (kind == "Role").then_some(namespace);
            snapshot
                .get(&resource.key(ns, role_name))
                .and_then(|o| serde_json::from_slice::<Value>(&o.bytes).ok())
                .map(|r| rbac::rules_of(&r))
                .unwrap_or_default()
        }
        (_, None) => {
            return Err(denied(user, plural, name, &[], true));
        }
    };
    let held = rbac::rules_for(snapshot, user, namespace);
    let missing: Vec<PolicyRule> = wanted
        .into_iter()
        .filter(|r| !rbac::covers(&held, r))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(denied(user, plural, name, &missing, false))
    }
}

fn denied(
    user: &UserInfo,
    plural: &str,
    name: &str,
    missing: &[PolicyRule],
    patch: bool,
) -> ApiError {
    let groups: Vec<String> = user.groups.iter().map(|g| format!("{g:?}")).collect();
    let mut reason = format!(
        "user {:?} (groups=[{}]) is attempting to grant RBAC permissions not currently held",
        user.name,
        groups.join(" ")
    );
    if patch {
        reason.push_str(": a patch of a role or binding needs the escalate or bind verb on it");
    } else {
        let rules: Vec<String> = missing.iter().map(describe).collect();
        reason.push_str(":\n");
        reason.push_str(&rules.join("\n"));
    }
    ApiError::forbidden_raw(
        Some(&ResourceAttributes {
            group: GROUP.into(),
            resource: plural.into(),
            name: name.into(),
            ..Default::default()
        }),
        reason,
    )
}

/// A rule as upstream's `CompactString` prints it.
fn describe(rule: &PolicyRule) -> String {
    let list = |v: &[String]| {
        v.iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !rule.api_groups.is_empty() {
        parts.push(format!("APIGroups:[{}]", list(&rule.api_groups)));
    }
    if !rule.resources.is_empty() {
        parts.push(format!("Resources:[{}]", list(&rule.resources)));
    }
    if !rule.resource_names.is_empty() {
        parts.push(format!("ResourceNames:[{}]", list(&rule.resource_names)));
    }
    if !rule.non_resource_urls.is_empty() {
        parts.push(format!(
            "NonResourceURLs:[{}]",
            list(&rule.non_resource_urls)
        ));
    }
    parts.push(format!("Verbs:[{}]", list(&rule.verbs)));
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_print_as_upstream() {
        let rule = PolicyRule {
            verbs: vec!["get".into(), "list".into()],
            api_groups: vec!["".into()],
            resources: vec!["secrets".into()],
            ..Default::default()
        };
        assert_eq!(
            describe(&rule),
            r#"{APIGroups:[""], Resources:["secrets"], Verbs:["get", "list"]}"#
        );
        let user = UserInfo::service_account("a", "b", "u");
        let e = denied(&user, "roles", "r", &[rule], false);
        assert_eq!(e.code, 403);
        assert!(e.message.starts_with(
            "roles.rbac.authorization.k8s.io \"r\" is forbidden: user \"system:serviceaccount:a:b\" (groups=[\"system:serviceaccounts\" \"system:serviceaccounts:a\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups"
        ), "{}", e.message);
    }
}
