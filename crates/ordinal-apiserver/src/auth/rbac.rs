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
//!
//! The bindings and roles are parsed once into an [`Index`], which is used
//! again for as long as every RBAC object of the request's snapshot is the
//! one it was made from. Parsing them for every request, as this module
//! once did, took a tenth of the CPU of a busy `ordinal up` (the node agent
//! and the controllers are not masters, so each of their requests is
//! authorized): about 60 bindings and their roles, from JSON, each time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ordinal_store::{Object, Snapshot};
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

/// A binding, parsed: whom it binds (none when its subjects are
/// malformed) and to which role (None when its `roleRef` is).
struct Binding {
    subjects: Vec<Subject>,
    role_ref: Option<RoleRef>,
}

impl Binding {
    fn of(binding: &Value) -> Binding {
        Binding {
            subjects: binding
                .get("subjects")
                .and_then(|s| serde_json::from_value(s.clone()).ok())
                .unwrap_or_default(),
            role_ref: binding
                .get("roleRef")
                .and_then(|r| serde_json::from_value(r.clone()).ok()),
        }
    }
}

/// The RBAC objects of a snapshot, parsed.
struct Index {
    /// The objects it was made from, in the order [`Index::sources`]
    /// walks them. Held, so a pointer match is never another object
    /// (another store's) at a reused address.
    made_from: Vec<Arc<Object>>,
    cluster_bindings: Vec<Binding>,
    /// RoleBindings by namespace.
    bindings: HashMap<String, Vec<Binding>>,
    cluster_roles: HashMap<String, Vec<PolicyRule>>,
    /// Roles by namespace, then name (looked up with no key to build).
    roles: HashMap<String, HashMap<String, Vec<PolicyRule>>>,
}

/// The objects under `prefix`, parsed, with their namespace and name from
/// the key (`<prefix><namespace>/<name>`, or `<prefix><name>` for a
/// cluster-scoped one, whose namespace is empty).
fn parsed<'a>(
    snapshot: &'a Snapshot,
    prefix: &'a str,
) -> impl Iterator<Item = (String, String, Value)> + 'a {
    snapshot.range(prefix, None).filter_map(move |o| {
        let value: Value = serde_json::from_slice(&o.bytes).ok()?;
        let rest = &o.key[prefix.len()..];
        let (ns, name) = rest.split_once('/').unwrap_or(("", rest));
        Some((ns.to_string(), name.to_string(), value))
    })
}

/// The key prefixes of RBAC's four kinds, in the order an index walks them.
fn prefixes() -> &'static [String] {
    static PREFIXES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    PREFIXES.get_or_init(|| {
        [
            "clusterrolebindings",
            "rolebindings",
            "clusterroles",
            "roles",
        ]
        .iter()
        .filter_map(|plural| resources::by_plural(GROUP, plural))
        .map(|r| r.key_prefix())
        .collect()
    })
}

impl Index {
    /// Every RBAC object of the snapshot, in a fixed order.
    fn sources(snapshot: &Snapshot) -> impl Iterator<Item = &Arc<Object>> {
        prefixes().iter().flat_map(|p| snapshot.range(p, None))
    }

    /// The index of `snapshot`: the last one made, when every RBAC object
    /// is still the one it was made from; else a new one.
    fn of(snapshot: &Snapshot) -> Arc<Index> {
        static LAST: Mutex<Option<Arc<Index>>> = Mutex::new(None);
        let last = LAST.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(index) = last.filter(|i| i.made_from(snapshot)) {
            return index;
        }
        let index = Arc::new(Index::make(snapshot));
        *LAST.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&index));
        index
    }

    fn made_from(&self, snapshot: &Snapshot) -> bool {
        let mut held = self.made_from.iter();
        Index::sources(snapshot).all(|o| held.next().is_some_and(|h| Arc::ptr_eq(h, o)))
            && held.next().is_none()
    }

    fn make(snapshot: &Snapshot) -> Index {
        let [cluster_bindings, bindings, cluster_roles, roles] = prefixes() else {
            unreachable!("RBAC's four kinds are registered")
        };
        let mut index = Index {
            made_from: Index::sources(snapshot).cloned().collect(),
            cluster_bindings: Vec::new(),
            bindings: HashMap::new(),
            cluster_roles: HashMap::new(),
            roles: HashMap::new(),
        };
        for (_, _, b) in parsed(snapshot, cluster_bindings) {
            index.cluster_bindings.push(Binding::of(&b));
        }
        for (ns, _, b) in parsed(snapshot, bindings) {
            index.bindings.entry(ns).or_default().push(Binding::of(&b));
        }
        for (_, name, role) in parsed(snapshot, cluster_roles) {
            index.cluster_roles.insert(name, rules_of(&role));
        }
        for (ns, name, role) in parsed(snapshot, roles) {
            index
                .roles
                .entry(ns)
                .or_default()
                .insert(name, rules_of(&role));
        }
        index
    }

    fn role_rules(&self, role_ref: &RoleRef, namespace: &str) -> &[PolicyRule] {
        let rules = match role_ref.kind.as_str() {
            "ClusterRole" => self.cluster_roles.get(&role_ref.name),
            "Role" => self
                .roles
                .get(namespace)
                .and_then(|roles| roles.get(&role_ref.name)),
            _ => None,
        };
        rules.map(Vec::as_slice).unwrap_or_default()
    }

    /// The rules of the bindings of `namespace` (cluster-wide ones when it
    /// is empty) that bind `user`.
    fn bound<'a>(
        &'a self,
        user: &'a UserInfo,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a PolicyRule> + 'a {
        let bindings = if namespace.is_empty() {
            self.cluster_bindings.as_slice()
        } else {
            self.bindings
                .get(namespace)
                .map(Vec::as_slice)
                .unwrap_or_default()
        };
        bindings
            .iter()
            .filter(move |b| b.subjects.iter().any(|s| s.matches(user, namespace)))
            .filter_map(|b| b.role_ref.as_ref())
            .flat_map(move |role_ref| self.role_rules(role_ref, namespace))
    }

    /// Every rule that applies to `user` in `namespace`: the cluster's
    /// bindings', then the namespace's.
    fn rules<'a>(
        &'a self,
        user: &'a UserInfo,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a PolicyRule> + 'a {
        let local = (!namespace.is_empty()).then(|| self.bound(user, namespace));
        self.bound(user, "").chain(local.into_iter().flatten())
    }
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
    Index::of(snapshot)
        .rules(user, namespace)
        .cloned()
        .collect()
}

/// Whether the roles bound to `user` allow the request.
pub fn allows(snapshot: &Snapshot, user: &UserInfo, attrs: &Attributes) -> bool {
    let namespace = match attrs {
        Attributes::Resource(r) => r.namespace.as_str(),
        Attributes::NonResource { .. } => "",
    };
    Index::of(snapshot)
        .rules(user, namespace)
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

    /// The parsed index follows every change of a binding or role, and a
    /// snapshot taken before a change keeps its own answer.
    #[tokio::test]
    async fn a_change_to_a_binding_or_role_counts_from_the_next_snapshot() {
        use serde_json::json;
        let dir = tempfile::tempdir().unwrap();
        let store =
            ordinal_store::Store::open(ordinal_store::StoreConfig::new(dir.path().join("s.db")))
                .unwrap();
        let key = |plural: &str, ns: Option<&str>, name: &str| {
            resources::by_plural(GROUP, plural).unwrap().key(ns, name)
        };
        let jane = UserInfo {
            name: "jane".into(),
            ..Default::default()
        };
        let list_pods =
            |ns: &str| of_request("GET", &format!("/api/v1/namespaces/{ns}/pods"), None);
        let role = json!({"metadata": {"name": "reader"}, "rules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]}]});
        let binding = |user: &str| {
            json!({"metadata": {"name": "b"}, "subjects": [{"kind": "User", "name": user}],
                "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": "reader"}})
        };
        assert!(!allows(&store.snapshot(), &jane, &list_pods("a")));
        store
            .create(key("clusterroles", None, "reader"), role.clone())
            .await
            .unwrap();
        let bound = store
            .create(key("clusterrolebindings", None, "b"), binding("jane"))
            .await
            .unwrap();
        let before = store.snapshot();
        assert!(allows(&before, &jane, &list_pods("a")));
        assert_eq!(rules_for(&before, &jane, "a").len(), 1);

        // The binding moves to someone else: jane loses the right, from
        // the next snapshot on.
        store
            .update(
                key("clusterrolebindings", None, "b"),
                binding("joe"),
                bound.rev,
            )
            .await
            .unwrap();
        assert!(!allows(&store.snapshot(), &jane, &list_pods("a")));
        assert!(allows(&before, &jane, &list_pods("a")), "its own answer");
        assert!(!allows(&store.snapshot(), &jane, &list_pods("a")));

        // A RoleBinding to a Role counts in its namespace alone; deleting
        // the Role takes the right away.
        store
            .create(key("roles", Some("a"), "reader"), role)
            .await
            .unwrap();
        let local = json!({"metadata": {"name": "b", "namespace": "a"}, "subjects": [{"kind": "User", "name": "jane"}],
            "roleRef": {"apiGroup": GROUP, "kind": "Role", "name": "reader"}});
        store
            .create(key("rolebindings", Some("a"), "b"), local)
            .await
            .unwrap();
        let now = store.snapshot();
        assert!(allows(&now, &jane, &list_pods("a")));
        assert!(!allows(&now, &jane, &list_pods("b")));
        store
            .delete(key("roles", Some("a"), "reader"), None)
            .await
            .unwrap();
        assert!(!allows(&store.snapshot(), &jane, &list_pods("a")));
        store.close();
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
