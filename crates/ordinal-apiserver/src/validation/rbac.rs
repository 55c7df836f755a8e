//! RBAC validation (`pkg/apis/rbac/validation`): policy rules, aggregation
//! rules, role references and subjects. Names of roles and bindings (and
//! the role a binding names) are path segments, checked by
//! [`crate::names::NameRule::PathSegment`].

use serde_json::Value;

use super::common::{Path, label_selector};
use crate::lenient::{self, list, string};
use crate::names::{self, BadValue, FieldError, go_quote};

/// The API group of roles, and of `User` and `Group` subjects.
pub const GROUP: &str = "rbac.authorization.k8s.io";

const SERVICE_ACCOUNT: &str = "ServiceAccount";
const USER: &str = "User";
const GROUP_KIND: &str = "Group";

/// Where a rule or subject lives: in a namespaced object (Role,
/// RoleBinding) or a cluster-scoped one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A Role or RoleBinding.
    Namespaced,
    /// A ClusterRole or ClusterRoleBinding.
    Cluster,
}

/// The strings of a `[]string` field (non-strings read as empty).
fn strings(v: &Value, key: &str) -> Vec<String> {
    list(v, key)
        .iter()
        .map(|s| s.as_str().unwrap_or("").to_string())
        .collect()
}

/// `ValidatePolicyRule`.
pub fn validate_policy_rule(rule: &Value, scope: Scope, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if list(rule, "verbs").is_empty() {
        errs.push(FieldError::required(
            path.child("verbs"),
            "verbs must contain at least one value",
        ));
    }
    let urls = strings(rule, "nonResourceURLs");
    if !urls.is_empty() {
        if scope == Scope::Namespaced {
            errs.push(FieldError::invalid(
                path.child("nonResourceURLs"),
                BadValue::string_slice(&urls),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        let resourceful = ["apiGroups", "resources", "resourceNames"]
            .iter()
            .any(|k| !list(rule, k).is_empty());
        if resourceful {
            errs.push(FieldError::invalid(
                path.child("nonResourceURLs"),
                BadValue::string_slice(&urls),
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errs;
    }
    if list(rule, "apiGroups").is_empty() {
        errs.push(FieldError::required(
            path.child("apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if list(rule, "resources").is_empty() {
        errs.push(FieldError::required(
            path.child("resources"),
            "resource rules must supply at least one resource",
        ));
    }
    errs
}

/// The rules of a Role or ClusterRole.
fn validate_rules(role: &Value, scope: Scope) -> Vec<FieldError> {
    let rules = Path::new("rules");
    list(role, "rules")
        .iter()
        .enumerate()
        .flat_map(|(i, rule)| validate_policy_rule(rule, scope, &rules.index(i)))
        .collect()
}

/// `ValidateRole` without the metadata.
pub fn validate_role(role: &Value) -> Vec<FieldError> {
    validate_rules(role, Scope::Namespaced)
}

/// `ValidateClusterRole` without the metadata: its rules, and its
/// aggregation rule's selectors.
pub fn validate_cluster_role(role: &Value) -> Vec<FieldError> {
    let mut errs = validate_rules(role, Scope::Cluster);
    if let Some(aggregation) = role.get("aggregationRule").filter(|a| !a.is_null()) {
        let path = Path::new("aggregationRule").child("clusterRoleSelectors");
        let selectors = list(aggregation, "clusterRoleSelectors");
        if selectors.is_empty() {
            errs.push(FieldError::required(
                &path,
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            ));
        }
        for (i, selector) in selectors.iter().enumerate() {
            label_selector(selector, &path.index(i), &mut errs);
        }
    }
    errs
}

/// Go's `%#v` of an `rbac.RoleRef`, the bad value of "cannot change
/// roleRef".
fn role_ref_value(role_ref: Option<&Value>) -> BadValue {
    let field = |k: &str| go_quote(role_ref.map_or("", |r| string(r, k)));
    BadValue::Raw(format!(
        "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
        field("apiGroup"),
        field("kind"),
        field("name")
    ))
}

/// `ValidateRoleBinding` / `ValidateClusterRoleBinding` without the
/// metadata: the role reference and the subjects.
pub fn validate_binding(binding: &Value, scope: Scope) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let empty = Value::Null;
    let role_ref = binding.get("roleRef").unwrap_or(&empty);
    let path = Path::new("roleRef");
    let api_group = string(role_ref, "apiGroup");
    if api_group != GROUP {
        errs.push(FieldError::not_supported(
            path.child("apiGroup"),
            api_group,
            &[GROUP],
        ));
    }
    let kind = string(role_ref, "kind");
    let kinds: &[&str] = match scope {
        Scope::Namespaced => &["Role", "ClusterRole"],
        Scope::Cluster => &["ClusterRole"],
    };
    if !kinds.contains(&kind) {
        errs.push(FieldError::not_supported(path.child("kind"), kind, kinds));
    }
    let name = string(role_ref, "name");
    if name.is_empty() {
        errs.push(FieldError::required(path.child("name"), ""));
    } else {
        for m in names::path_segment_errors(name, false) {
            errs.push(FieldError::invalid(path.child("name"), name, m));
        }
    }
    let subjects = Path::new("subjects");
    for (i, subject) in list(binding, "subjects").iter().enumerate() {
        errs.extend(validate_subject(subject, scope, &subjects.index(i)));
    }
    errs
}

/// The update rules of a binding: those of a new one, and an unchanged
/// `roleRef` (a binding grants what its role grants; pointing it elsewhere
/// is a new binding).
pub fn validate_binding_update(old: &Value, new: &Value, scope: Scope) -> Vec<FieldError> {
    let mut errs = validate_binding(new, scope);
    let role_ref = |v: &Value| {
        let r = v.get("roleRef");
        ["apiGroup", "kind", "name"].map(|k| r.map_or("", |r| string(r, k)).to_string())
    };
    if role_ref(old) != role_ref(new) {
        errs.push(FieldError::invalid(
            "roleRef",
            role_ref_value(new.get("roleRef")),
            "cannot change roleRef",
        ));
    }
    errs
}

/// `ValidateRoleBindingSubject`.
pub fn validate_subject(subject: &Value, scope: Scope, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = string(subject, "name");
    if name.is_empty() {
        errs.push(FieldError::required(path.child("name"), ""));
    }
    let api_group = string(subject, "apiGroup");
    match string(subject, "kind") {
        SERVICE_ACCOUNT => {
            if !name.is_empty() {
                for m in names::is_dns1123_subdomain(name) {
                    errs.push(FieldError::invalid(path.child("name"), name, m));
                }
            }
            if !api_group.is_empty() {
                errs.push(FieldError::not_supported(
                    path.child("apiGroup"),
                    api_group,
                    &[""],
                ));
            }
            if scope == Scope::Cluster && lenient::string(subject, "namespace").is_empty() {
                errs.push(FieldError::required(path.child("namespace"), ""));
            }
        }
        USER | GROUP_KIND => {
            if api_group != GROUP {
                errs.push(FieldError::not_supported(
                    path.child("apiGroup"),
                    api_group,
                    &[GROUP],
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            path.child("kind"),
            other,
            &[SERVICE_ACCOUNT, USER, GROUP_KIND],
        )),
    }
    errs
}

/// Upstream's defaulting of bindings (`pkg/apis/rbac/v1/defaults.go`): a
/// role reference without a group is to the RBAC group, and a `User` or
/// `Group` subject without one is in it too.
pub fn default_binding(binding: &mut Value) {
    if let Some(role_ref) = binding.get_mut("roleRef").and_then(Value::as_object_mut) {
        lenient::default_str(role_ref, "apiGroup", GROUP);
    }
    if let Some(subjects) = binding.get_mut("subjects").and_then(Value::as_array_mut) {
        for subject in subjects.iter_mut().filter_map(Value::as_object_mut) {
            let kind = subject.get("kind").and_then(Value::as_str).unwrap_or("");
            if kind == USER || kind == GROUP_KIND {
                lenient::default_str(subject, "apiGroup", GROUP);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rendered(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    fn role(rules: Value) -> Value {
        json!({"metadata": {"name": "r", "namespace": "default"}, "rules": rules})
    }

    #[test]
    fn a_rule_needs_verbs_groups_and_resources() {
        assert!(
            validate_role(&role(
                json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}])
            ))
            .is_empty()
        );
        assert_eq!(
            rendered(&validate_role(&role(json!([{}])))),
            [
                "rules[0].verbs: Required value: verbs must contain at least one value",
                "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
                "rules[0].resources: Required value: resource rules must supply at least one resource",
            ]
        );
        let errs = validate_role(&role(json!([{"verbs": ["get"], "apiGroups": [""]}])));
        assert_eq!(errs[0].reason(), "FieldValueRequired");
        assert_eq!(errs[0].field, "rules[0].resources");
    }

    #[test]
    fn non_resource_urls_only_in_cluster_roles_and_never_with_resources() {
        let rule = json!([{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]);
        assert!(validate_cluster_role(&json!({"rules": rule.clone()})).is_empty());
        assert_eq!(
            rendered(&validate_role(&role(rule))),
            [
                r#"rules[0].nonResourceURLs: Invalid value: []string{"/healthz"}: namespaced rules cannot apply to non-resource URLs"#
            ]
        );
        let mixed = json!({"rules": [{"verbs": ["get"], "nonResourceURLs": ["/api"], "resources": ["pods"]}]});
        assert_eq!(
            rendered(&validate_cluster_role(&mixed)),
            [
                r#"rules[0].nonResourceURLs: Invalid value: []string{"/api"}: rules cannot apply to both regular resources and non-resource URLs"#
            ]
        );
    }

    #[test]
    fn an_aggregation_rule_needs_valid_selectors() {
        let ok = json!({"aggregationRule": {"clusterRoleSelectors": [
            {"matchLabels": {"rbac.example.com/aggregate-to-monitoring": "true"}}]}});
        assert!(validate_cluster_role(&ok).is_empty());
        assert_eq!(
            rendered(&validate_cluster_role(
                &json!({"aggregationRule": {"clusterRoleSelectors": []}})
            )),
            [
                "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil"
            ]
        );
        let bad = json!({"aggregationRule": {"clusterRoleSelectors": [
            {"matchExpressions": [{"key": "a", "operator": "In"}]}]}});
        assert_eq!(
            rendered(&validate_cluster_role(&bad)),
            [
                "aggregationRule.clusterRoleSelectors[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
            ]
        );
    }

    fn binding(role_ref: Value, subjects: Value) -> Value {
        json!({"roleRef": role_ref, "subjects": subjects})
    }

    fn view() -> Value {
        json!({"apiGroup": GROUP, "kind": "ClusterRole", "name": "view"})
    }

    #[test]
    fn a_role_ref_names_a_role_of_the_rbac_group() {
        assert!(validate_binding(&binding(view(), json!([])), Scope::Namespaced).is_empty());
        let bad = binding(
            json!({"apiGroup": "apps", "kind": "Deployment", "name": "a/b"}),
            json!([]),
        );
        assert_eq!(
            rendered(&validate_binding(&bad, Scope::Namespaced)),
            [
                r#"roleRef.apiGroup: Unsupported value: "apps": supported values: "rbac.authorization.k8s.io""#,
                r#"roleRef.kind: Unsupported value: "Deployment": supported values: "Role", "ClusterRole""#,
                "roleRef.name: Invalid value: \"a/b\": may not contain '/'",
            ]
        );
        let role = binding(
            json!({"apiGroup": GROUP, "kind": "Role", "name": ""}),
            json!([]),
        );
        assert_eq!(
            rendered(&validate_binding(&role, Scope::Cluster)),
            [
                r#"roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole""#,
                "roleRef.name: Required value",
            ]
        );
    }

    #[test]
    fn the_role_ref_cannot_change() {
        let old = binding(view(), json!([]));
        let mut new = old.clone();
        new["subjects"] = json!([{"kind": "User", "apiGroup": GROUP, "name": "jane"}]);
        assert!(validate_binding_update(&old, &new, Scope::Namespaced).is_empty());
        new["roleRef"]["name"] = json!("edit");
        let errs = validate_binding_update(&old, &new, Scope::Namespaced);
        assert_eq!(
            rendered(&errs),
            [
                r#"roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: cannot change roleRef"#
            ]
        );
        assert_eq!(errs[0].reason(), "FieldValueInvalid");
    }

    #[test]
    fn subjects_are_service_accounts_users_or_groups() {
        let ok = json!([
            {"kind": "ServiceAccount", "name": "default", "namespace": "kube-system"},
            {"kind": "User", "apiGroup": GROUP, "name": "system:admin"},
            {"kind": "Group", "apiGroup": GROUP, "name": "system:masters"},
        ]);
        assert!(validate_binding(&binding(view(), ok), Scope::Cluster).is_empty());
        let bad = json!([
            {"kind": "ServiceAccount", "apiGroup": GROUP, "name": "Bad_Name"},
            {"kind": "User", "name": "jane"},
            {"kind": "Robot", "name": ""},
        ]);
        assert_eq!(
            rendered(&validate_binding(&binding(view(), bad), Scope::Cluster)),
            [
                "subjects[0].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                r#"subjects[0].apiGroup: Unsupported value: "rbac.authorization.k8s.io": supported values: """#,
                "subjects[0].namespace: Required value",
                r#"subjects[1].apiGroup: Unsupported value: "": supported values: "rbac.authorization.k8s.io""#,
                "subjects[2].name: Required value",
                r#"subjects[2].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group""#,
            ]
        );
        // In a RoleBinding a service account's namespace defaults to the
        // binding's, so it may be left out.
        let sa = json!([{"kind": "ServiceAccount", "name": "default"}]);
        assert!(validate_binding(&binding(view(), sa), Scope::Namespaced).is_empty());
    }

    #[test]
    fn bindings_default_the_rbac_group() {
        let mut b = json!({"roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": [
            {"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "default"}]});
        default_binding(&mut b);
        assert_eq!(b["roleRef"]["apiGroup"], GROUP);
        assert_eq!(b["subjects"][0]["apiGroup"], GROUP);
        assert!(b["subjects"][1].get("apiGroup").is_none());
        assert!(validate_binding(&b, Scope::Namespaced).is_empty());
    }

    #[test]
    fn rbac_names_are_path_segments() {
        use crate::names::{NameRule, validate_generate_name, validate_name};
        assert!(validate_name(NameRule::PathSegment, "system:node").is_empty());
        assert!(validate_name(NameRule::PathSegment, "Mixed_Case:x").is_empty());
        assert_eq!(
            validate_name(NameRule::PathSegment, ".."),
            ["may not be '..'"]
        );
        assert_eq!(
            validate_name(NameRule::PathSegment, "a/b%c"),
            ["may not contain '/'", "may not contain '%'"]
        );
        assert!(validate_generate_name(NameRule::PathSegment, ".").is_empty());
    }
}
