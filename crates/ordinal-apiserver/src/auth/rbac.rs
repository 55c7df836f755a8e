//! Role-based access control: whether the bindings of the store grant a
//! user a request, and the rules a user holds (for `SelfSubjectRulesReview`
//! and escalation checks).
//!
//! The rules are upstream's (`plugin/pkg/auth/authorizer/rbac`): a request
//! is allowed when any rule of any role bound to the user (or one of its
//! groups, or its service account) covers it; nothing denies. Namespaced
//! requests are covered by the RoleBindings of their namespace and by every
//! ClusterRoleBinding; cluster-scoped and non-resource requests by
//! ClusterRoleBindings alone. Roles are read from a store snapshot, so a
//! binding takes effect with the next request.

use ordinal_store::Snapshot;
use serde_json::Value;

use super::UserInfo;
use super::attributes::{Attributes, ResourceAttributes};
use crate::resources;

/// The group of RBAC's kinds.
pub const GROUP: &str = "rbac.authorization.k8s.io";

/// One rule of a Role or ClusterRole.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyRule {
    /// `get`, `list`, … or `*`.
    pub verbs: Vec<String>,
    /// API groups, `""` for core, or `*`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub api_groups: Vec<String>,
    /// `pods`, `pods/log`, `*/scale`, `*`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Names the rule is limited to; empty for all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    /// Paths (`/healthz`, `/apis/*`) for non-resource requests.
    #[serde(rename = "nonResourceURLs", skip_serializing_if = "Vec::is_empty")]
    pub non_resource_urls: Vec<String>,
}

fn has(list: &[String], want: &str) -> bool {
    list.iter().any(|v| v == "*" || v == want)
}

impl PolicyRule {
    /// Whether the rule covers the request.
    pub fn allows(&self, attrs: &Attributes) -> bool {
        match attrs {
            Attributes::Resource(r) => self.allows_resource(r),
            Attributes::NonResource { verb, path } => {
                has(&self.verbs, verb)
                    && self.non_resource_urls.iter().any(|u| {
                        u == "*"
                            || u == path
                            || u.strip_suffix('*')
                                .is_some_and(|prefix| path.starts_with(prefix))
                    })
            }
        }
    }

    fn allows_resource(&self, r: &ResourceAttributes) -> bool {
        has(&self.verbs, &r.verb)
            && has(&self.api_groups, &r.group)
            && self.covers_resource(&r.resource, &r.subresource)
            && (self.resource_names.is_empty() || self.resource_names.contains(&r.name))
    }

    fn covers_resource(&self, resource: &str, subresource: &str) -> bool {
        let combined = if subresource.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}/{subresource}")
        };
        self.resources.iter().any(|rule| {
            if rule == "*" || *rule == combined {
                return true;
            }
            if subresource.is_empty() {
                return false;
            }
            // `*/scale` covers every scale; `pods/*` every pod subresource.
            rule.strip_prefix("*/") == Some(subresource)
                || rule.strip_suffix("/*") == Some(resource)
        })
    }
}

/// A subject of a binding.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
struct Subject {
    kind: String,
    name: String,
    namespace: String,
}

impl Subject {
    /// Whether the subject is this user; `binding_ns` is the namespace of a
    /// RoleBinding (a ServiceAccount subject without one lives there).
    fn matches(&self, user: &UserInfo, binding_ns: &str) -> bool {
        match self.kind.as_str() {
            "User" => user.name == self.name,
            "Group" => user.groups.contains(&self.name),
            "ServiceAccount" => {
                let ns = if self.namespace.is_empty() {
                    binding_ns
                } else {
                    &self.namespace
                };
                user.name == format!("system:serviceaccount:{ns}:{}", self.name)
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
struct RoleRef {
    kind: String,
    name: String,
}

/// The objects of a resource in a namespace (or cluster-wide), parsed.
fn objects(snapshot: &Snapshot, plural: &str, namespace: Option<&str>) -> Vec<Value> {
    let Some(resource) = resources::by_plural(GROUP, plural) else {
        return Vec::new();
    };
    let prefix = match namespace {
        Some(ns) => resource.namespace_prefix(ns),
        None => resource.key_prefix(),
    };
    snapshot
        .range(&prefix, None)
        .filter_map(|o| serde_json::from_slice(&o.bytes).ok())
        .collect()
}

fn role_rules(snapshot: &Snapshot, role_ref: &RoleRef, namespace: &str) -> Vec<PolicyRule> {
    let (plural, ns) = match role_ref.kind.as_str() {
        "ClusterRole" => ("clusterroles", None),
        "Role" => ("roles", Some(namespace)),
        _ => return Vec::new(),
    };
    let Some(resource) = resources::by_plural(GROUP, plural) else {
        return Vec::new();
    };
    let key = resource.key(ns, &role_ref.name);
    snapshot
        .get(&key)
        .and_then(|o| serde_json::from_slice::<Value>(&o.bytes).ok())
        .map(|role| rules_of(&role))
        .unwrap_or_default()
}

/// The rules of a Role or ClusterRole object; a malformed rule is skipped.
pub fn rules_of(role: &Value) -> Vec<PolicyRule> {
    role.get("rules")
        .and_then(Value::as_array)
        .map(|rules| {
            rules
                .iter()
                .filter_map(|r| serde_json::from_value(r.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Every rule that applies to `user` in `namespace` (cluster-wide rules
/// only, when `namespace` is empty).
pub fn rules_for(snapshot: &Snapshot, user: &UserInfo, namespace: &str) -> Vec<PolicyRule> {
    let mut out = Vec::new();
    for binding in objects(snapshot, "clusterrolebindings", None) {
        collect(snapshot, &binding, user, "", &mut out);
    }
    if !namespace.is_empty() {
        for binding in objects(snapshot, "rolebindings", Some(namespace)) {
            collect(snapshot, &binding, user, namespace, &mut out);
        }
    }
    out
}

fn collect(
    snapshot: &Snapshot,
    binding: &Value,
    user: &UserInfo,
    namespace: &str,
    out: &mut Vec<PolicyRule>,
) {
    let subjects: Vec<Subject> = binding
        .get("subjects")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .unwrap_or_default();
    if !subjects.iter().any(|s| s.matches(user, namespace)) {
        return;
    }
    let Some(role_ref) = binding
        .get("roleRef")
        .and_then(|r| serde_json::from_value::<RoleRef>(r.clone()).ok())
    else {
        return;
    };
    out.extend(role_rules(snapshot, &role_ref, namespace));
}

/// Whether the roles bound to `user` allow the request.
pub fn allows(snapshot: &Snapshot, user: &UserInfo, attrs: &Attributes) -> bool {
    let namespace = match attrs {
        Attributes::Resource(r) => r.namespace.as_str(),
        Attributes::NonResource { .. } => "",
    };
    rules_for(snapshot, user, namespace)
        .iter()
        .any(|rule| rule.allows(attrs))
}

/// Whether `held` covers everything `wanted` grants: upstream's escalation
/// check (`ConfirmNoEscalation`), rule by rule and verb by verb.
pub fn covers(held: &[PolicyRule], wanted: &PolicyRule) -> bool {
    // Every request the wanted rule allows, spelled as the request it
    // names (a wildcard stands for itself), must be allowed by a held rule.
    let allowed = |attrs: Attributes| held.iter().any(|h| h.allows(&attrs));
    if !wanted.non_resource_urls.is_empty() {
        return wanted.verbs.iter().all(|verb| {
            wanted.non_resource_urls.iter().all(|url| {
                allowed(Attributes::NonResource {
                    verb: verb.clone(),
                    path: url.clone(),
                })
            })
        });
    }
    let names: Vec<&str> = if wanted.resource_names.is_empty() {
        vec![""]
    } else {
        wanted.resource_names.iter().map(String::as_str).collect()
    };
    wanted.verbs.iter().all(|verb| {
        wanted.api_groups.iter().all(|group| {
            wanted.resources.iter().all(|resource| {
                let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
                names.iter().all(|name| {
                    allowed(Attributes::Resource(ResourceAttributes {
                        verb: verb.clone(),
                        group: group.clone(),
                        resource: resource.to_string(),
                        subresource: subresource.to_string(),
                        name: name.to_string(),
                        ..Default::default()
                    }))
                })
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::attributes::of_request;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            api_groups: groups.iter().map(|s| s.to_string()).collect(),
            resources: resources.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn rules_match_as_upstream() {
        let list_pods = of_request("GET", "/api/v1/namespaces/a/pods", None);
        assert!(rule(&["list"], &[""], &["pods"]).allows(&list_pods));
        assert!(rule(&["*"], &["*"], &["*"]).allows(&list_pods));
        assert!(!rule(&["get"], &[""], &["pods"]).allows(&list_pods));
        assert!(!rule(&["list"], &["apps"], &["pods"]).allows(&list_pods));
        let log = of_request("GET", "/api/v1/namespaces/a/pods/p/log", None);
        assert!(!rule(&["get"], &[""], &["pods"]).allows(&log));
        assert!(rule(&["get"], &[""], &["pods/log"]).allows(&log));
        assert!(rule(&["get"], &[""], &["pods/*"]).allows(&log));
        assert!(rule(&["get"], &[""], &["*/log"]).allows(&log));
        let mut named = rule(&["get"], &[""], &["secrets"]);
        named.resource_names = vec!["s1".into()];
        assert!(named.allows(&of_request("GET", "/api/v1/namespaces/a/secrets/s1", None)));
        assert!(!named.allows(&of_request("GET", "/api/v1/namespaces/a/secrets/s2", None)));
        assert!(!named.allows(&of_request("GET", "/api/v1/namespaces/a/secrets", None)));
        let healthz = of_request("GET", "/healthz", None);
        let mut paths = rule(&["get"], &[], &[]);
        paths.non_resource_urls = vec!["/healthz".into()];
        assert!(paths.allows(&healthz));
        paths.non_resource_urls = vec!["/apis/*".into()];
        assert!(!paths.allows(&healthz));
        assert!(paths.allows(&of_request("GET", "/apis/apps", None)));
        // A resource rule never covers a path.
        assert!(!rule(&["*"], &["*"], &["*"]).allows(&healthz));
    }

    #[test]
    fn escalation_checks_every_verb_and_resource() {
        let held = vec![rule(&["get", "list"], &[""], &["pods", "configmaps"])];
        assert!(covers(&held, &rule(&["get"], &[""], &["pods"])));
        assert!(!covers(&held, &rule(&["get", "delete"], &[""], &["pods"])));
        assert!(!covers(&held, &rule(&["get"], &[""], &["secrets"])));
        assert!(!covers(&held, &rule(&["*"], &[""], &["pods"])));
        assert!(covers(
            &[rule(&["*"], &["*"], &["*"])],
            &rule(&["*"], &["*"], &["*"])
        ));
        assert!(covers(&held, &rule(&["get"], &[""], &[])));
    }

    #[test]
    fn subjects_match_users_groups_and_service_accounts() {
        let user = UserInfo {
            name: "system:serviceaccount:ns1:reader".into(),
            groups: vec![
                "system:serviceaccounts".into(),
                "system:authenticated".into(),
            ],
            ..Default::default()
        };
        let sa = Subject {
            kind: "ServiceAccount".into(),
            name: "reader".into(),
            namespace: String::new(),
        };
        assert!(sa.matches(&user, "ns1"));
        assert!(!sa.matches(&user, "ns2"));
        let group = Subject {
            kind: "Group".into(),
            name: "system:serviceaccounts".into(),
            namespace: String::new(),
        };
        assert!(group.matches(&user, ""));
        let other = Subject {
            kind: "User".into(),
            name: "reader".into(),
            namespace: String::new(),
        };
        assert!(!other.matches(&user, "ns1"));
    }
}
