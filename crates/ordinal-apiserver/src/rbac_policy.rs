//! The default RBAC policy: the cluster roles and cluster role bindings a
//! cluster has from its first start, as upstream's bootstrap policy
//! (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy`), made at start
//! when absent (see [`crate::bootstrap`]).
//!
//! Every object is labelled `kubernetes.io/bootstrapping: rbac-defaults`
//! and annotated `rbac.authorization.kubernetes.io/autoupdate: "true"`,
//! as upstream's are. `admin`, `edit` and `view` carry no rules of their
//! own: they aggregate, through their aggregation rules, the cluster roles
//! labelled `rbac.authorization.k8s.io/aggregate-to-<name>` (the
//! `system:aggregate-to-*` roles here, and any a user adds); the
//! cluster-role aggregation controller writes the union into their
//! `rules`. `edit` is itself aggregated into `admin`, and `view` into
//! `edit`.
//!
//! The rules name upstream's resources, served here or not (a rule for an
//! unserved resource grants nothing until it is served), so that objects
//! and tools written for upstream's roles read the same. The per-controller
//! `system:controller:*` roles and the namespaced roles upstream makes in
//! `kube-system` are not made.

use serde_json::{Value, json};

/// The label every default object carries.
pub const BOOTSTRAPPING_LABEL: &str = "kubernetes.io/bootstrapping";
/// Its value.
pub const BOOTSTRAPPING_VALUE: &str = "rbac-defaults";
/// The annotation that lets the defaults be brought up to date.
pub const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";
/// The label prefix that aggregates a cluster role into `admin`, `edit`
/// or `view`.
pub const AGGREGATE_TO: &str = "rbac.authorization.k8s.io/aggregate-to-";

const API_VERSION: &str = "rbac.authorization.k8s.io/v1";
const RBAC: &str = "rbac.authorization.k8s.io";

const CORE: &str = "";
const APPS: &str = "apps";
const AUTHENTICATION: &str = "authentication.k8s.io";
const AUTHORIZATION: &str = "authorization.k8s.io";
const AUTOSCALING: &str = "autoscaling";
const BATCH: &str = "batch";
const CERTIFICATES: &str = "certificates.k8s.io";
const COORDINATION: &str = "coordination.k8s.io";
const DISCOVERY: &str = "discovery.k8s.io";
const EVENTS: &str = "events.k8s.io";
const EXTENSIONS: &str = "extensions";
const NETWORKING: &str = "networking.k8s.io";
const NODE: &str = "node.k8s.io";
const POLICY: &str = "policy";
const STORAGE: &str = "storage.k8s.io";

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];
const READ_WRITE: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];
const READ_UPDATE: &[&str] = &["get", "list", "watch", "update", "patch"];

/// A resource rule: `verbs` on `resources` of `groups`.
fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> Value {
    json!({"verbs": verbs, "apiGroups": groups, "resources": resources})
}

/// A resource rule limited to the objects named `names`.
fn named(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> Value {
    let mut r = rule(verbs, groups, resources);
    r["resourceNames"] = json!(names);
    r
}

/// A non-resource rule: `verbs` on the URL paths `urls`.
fn urls(verbs: &[&str], urls: &[&str]) -> Value {
    json!({"verbs": verbs, "nonResourceURLs": urls})
}

/// Writing events, in both groups that serve them.
fn events_rule() -> Value {
    rule(&["create", "update", "patch"], &[CORE, EVENTS], &["events"])
}

/// The metadata of a default object.
fn metadata(name: &str, labels: &[(&str, &str)]) -> Value {
    let mut all = serde_json::Map::new();
    for (k, v) in labels {
        all.insert((*k).into(), json!(v));
    }
    all.insert(BOOTSTRAPPING_LABEL.into(), json!(BOOTSTRAPPING_VALUE));
    json!({
        "name": name,
        "labels": all,
        "annotations": {AUTOUPDATE_ANNOTATION: "true"},
    })
}

fn cluster_role(name: &str, rules: Vec<Value>) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": "ClusterRole",
        "metadata": metadata(name, &[]),
        "rules": rules,
    })
}

/// A role labelled to be aggregated into `into` (`admin`, `edit`, `view`).
fn aggregated_into(name: &str, into: &str, rules: Vec<Value>) -> Value {
    let label = format!("{AGGREGATE_TO}{into}");
    json!({
        "apiVersion": API_VERSION,
        "kind": "ClusterRole",
        "metadata": metadata(name, &[(&label, "true")]),
        "rules": rules,
    })
}

/// A role whose rules are those of the roles labelled
/// `aggregate-to-<from>`; itself aggregated into `into`, if any.
fn aggregating(name: &str, from: &str, into: Option<&str>) -> Value {
    let into = into.map(|i| format!("{AGGREGATE_TO}{i}"));
    let labels: Vec<(&str, &str)> = into.iter().map(|l| (l.as_str(), "true")).collect();
    json!({
        "apiVersion": API_VERSION,
        "kind": "ClusterRole",
        "metadata": metadata(name, &labels),
        "aggregationRule": {"clusterRoleSelectors": [
            {"matchLabels": {format!("{AGGREGATE_TO}{from}"): "true"}}
        ]},
    })
}

/// What a node agent needs (upstream's `NodeRules`).
fn node_rules() -> Vec<Value> {
    vec![
        rule(&["create"], &[AUTHENTICATION], &["tokenreviews"]),
        rule(
            &["create"],
            &[AUTHORIZATION],
            &["subjectaccessreviews", "localsubjectaccessreviews"],
        ),
        rule(READ, &[CORE], &["services"]),
        rule(&["create", "get", "list", "watch"], &[CORE], &["nodes"]),
        rule(&["update", "patch"], &[CORE], &["nodes/status"]),
        rule(&["update", "patch"], &[CORE], &["nodes"]),
        rule(&["create", "update", "patch"], &[CORE], &["events"]),
        rule(READ, &[CORE], &["pods"]),
        rule(&["create", "delete"], &[CORE], &["pods"]),
        rule(&["update", "patch"], &[CORE], &["pods/status"]),
        rule(&["create"], &[CORE], &["pods/eviction"]),
        rule(READ, &[CORE], &["secrets", "configmaps"]),
        rule(
            &["get"],
            &[CORE],
            &["persistentvolumeclaims", "persistentvolumes"],
        ),
        rule(&["get"], &[CORE], &["endpoints"]),
        rule(
            &["create", "get", "list", "watch"],
            &[CERTIFICATES],
            &["certificatesigningrequests"],
        ),
        rule(
            &["get", "create", "update", "patch", "delete"],
            &[COORDINATION],
            &["leases"],
        ),
        rule(&["get"], &[STORAGE], &["volumeattachments"]),
        rule(
            &["get", "update", "patch"],
            &[CORE],
            &["persistentvolumeclaims/status"],
        ),
        rule(&["create"], &[CORE], &["serviceaccounts/token"]),
        rule(&["get", "watch", "list"], &[STORAGE], &["csidrivers"]),
        rule(
            &["get", "create", "update", "patch", "delete"],
            &[STORAGE],
            &["csinodes"],
        ),
        rule(READ, &[NODE], &["runtimeclasses"]),
    ]
}

/// The default cluster roles.
pub fn cluster_roles() -> Vec<Value> {
    vec![
        cluster_role(
            "cluster-admin",
            vec![rule(&["*"], &["*"], &["*"]), urls(&["*"], &["*"])],
        ),
        cluster_role(
            "system:discovery",
            vec![urls(
                &["get"],
                &[
                    "/livez",
                    "/readyz",
                    "/healthz",
                    "/version",
                    "/version/",
                    "/openapi",
                    "/openapi/*",
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                ],
            )],
        ),
        cluster_role(
            "system:basic-user",
            vec![
                rule(&["create"], &[AUTHENTICATION], &["selfsubjectreviews"]),
                rule(
                    &["create"],
                    &[AUTHORIZATION],
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
            ],
        ),
        cluster_role(
            "system:public-info-viewer",
            vec![urls(
                &["get"],
                &["/livez", "/readyz", "/healthz", "/version", "/version/"],
            )],
        ),
        cluster_role(
            "system:monitoring",
            vec![urls(
                &["get"],
                &[
                    "/metrics",
                    "/metrics/slis",
                    "/livez",
                    "/readyz",
                    "/healthz",
                    "/livez/*",
                    "/readyz/*",
                    "/healthz/*",
                ],
            )],
        ),
        aggregating("admin", "admin", None),
        aggregating("edit", "edit", Some("admin")),
        aggregating("view", "view", Some("edit")),
        aggregated_into(
            "system:aggregate-to-admin",
            "admin",
            vec![
                rule(
                    &["create"],
                    &[AUTHORIZATION],
                    &["localsubjectaccessreviews"],
                ),
                rule(READ_WRITE, &[RBAC], &["roles", "rolebindings"]),
            ],
        ),
        aggregated_into("system:aggregate-to-edit", "edit", aggregate_to_edit()),
        aggregated_into("system:aggregate-to-view", "view", aggregate_to_view()),
        cluster_role("system:node", node_rules()),
        cluster_role(
            "system:node-proxier",
            vec![
                rule(&["list", "watch"], &[CORE], &["services", "endpoints"]),
                rule(READ, &[CORE], &["nodes"]),
                events_rule(),
                rule(&["list", "watch"], &[DISCOVERY], &["endpointslices"]),
            ],
        ),
        cluster_role(
            "system:auth-delegator",
            vec![
                rule(&["create"], &[AUTHENTICATION], &["tokenreviews"]),
                rule(&["create"], &[AUTHORIZATION], &["subjectaccessreviews"]),
            ],
        ),
        cluster_role(
            "system:kube-controller-manager",
            vec![
                events_rule(),
                rule(&["create"], &[COORDINATION], &["leases"]),
                named(
                    &["get", "update"],
                    &[COORDINATION],
                    &["leases"],
                    &["kube-controller-manager"],
                ),
                rule(&["create"], &[CORE], &["secrets", "serviceaccounts"]),
                rule(&["delete"], &[CORE], &["secrets"]),
                rule(
                    &["get"],
                    &[CORE],
                    &["namespaces", "secrets", "serviceaccounts", "configmaps"],
                ),
                rule(&["update"], &[CORE], &["secrets", "serviceaccounts"]),
                rule(&["create"], &[AUTHENTICATION], &["tokenreviews"]),
                rule(&["create"], &[AUTHORIZATION], &["subjectaccessreviews"]),
                rule(&["list", "watch"], &["*"], &["*"]),
                rule(&["create"], &[CORE], &["serviceaccounts/token"]),
            ],
        ),
        cluster_role(
            "system:kube-scheduler",
            vec![
                events_rule(),
                rule(&["create"], &[COORDINATION], &["leases"]),
                named(
                    &["get", "update"],
                    &[COORDINATION],
                    &["leases"],
                    &["kube-scheduler"],
                ),
                rule(READ, &[CORE], &["nodes"]),
                rule(&["get", "list", "watch", "delete"], &[CORE], &["pods"]),
                rule(&["create"], &[CORE], &["pods/binding", "bindings"]),
                rule(&["patch", "update"], &[CORE], &["pods/status"]),
                rule(READ, &[CORE], &["services", "replicationcontrollers"]),
                rule(READ, &[APPS, EXTENSIONS], &["replicasets"]),
                rule(READ, &[APPS], &["statefulsets"]),
                rule(READ, &[POLICY], &["poddisruptionbudgets"]),
                rule(
                    READ,
                    &[CORE],
                    &["persistentvolumeclaims", "persistentvolumes"],
                ),
                rule(&["create"], &[AUTHENTICATION], &["tokenreviews"]),
                rule(&["create"], &[AUTHORIZATION], &["subjectaccessreviews"]),
                rule(READ, &[STORAGE], &["csinodes"]),
                rule(READ, &[CORE], &["namespaces"]),
                rule(READ, &[STORAGE], &["csidrivers"]),
                rule(READ, &[STORAGE], &["csistoragecapacities"]),
            ],
        ),
        cluster_role(
            "system:volume-scheduler",
            vec![
                rule(READ_UPDATE, &[CORE], &["persistentvolumes"]),
                rule(READ, &[STORAGE], &["storageclasses"]),
                rule(READ_UPDATE, &[CORE], &["persistentvolumeclaims"]),
            ],
        ),
        cluster_role(
            "system:kube-dns",
            vec![rule(
                &["list", "watch"],
                &[CORE],
                &["endpoints", "services"],
            )],
        ),
        cluster_role(
            "system:persistent-volume-provisioner",
            vec![
                rule(
                    &["get", "list", "watch", "create", "delete"],
                    &[CORE],
                    &["persistentvolumes"],
                ),
                rule(
                    &["get", "list", "watch", "update"],
                    &[CORE],
                    &["persistentvolumeclaims"],
                ),
                rule(READ, &[STORAGE], &["storageclasses"]),
                rule(&["watch"], &[CORE], &["events"]),
                events_rule(),
            ],
        ),
    ]
}

/// What `edit` adds to `view`: reading the escalating resources, and
/// writing every user-level one.
fn aggregate_to_edit() -> Vec<Value> {
    vec![
        rule(
            READ,
            &[CORE],
            &[
                "pods/attach",
                "pods/proxy",
                "pods/exec",
                "pods/portforward",
                "secrets",
                "services/proxy",
            ],
        ),
        rule(&["impersonate"], &[CORE], &["serviceaccounts"]),
        rule(
            WRITE,
            &[CORE],
            &[
                "pods",
                "pods/attach",
                "pods/proxy",
                "pods/exec",
                "pods/portforward",
            ],
        ),
        rule(&["create"], &[CORE], &["pods/eviction"]),
        rule(
            WRITE,
            &[CORE],
            &[
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/proxy",
                "persistentvolumeclaims",
                "configmaps",
                "secrets",
            ],
        ),
        rule(&["create"], &[CORE], &["serviceaccounts/token"]),
        rule(
            WRITE,
            &[APPS],
            &[
                "statefulsets",
                "statefulsets/scale",
                "daemonsets",
                "deployments",
                "deployments/scale",
                "deployments/rollback",
                "replicasets",
                "replicasets/scale",
            ],
        ),
        rule(WRITE, &[AUTOSCALING], &["horizontalpodautoscalers"]),
        rule(WRITE, &[BATCH], &["jobs", "cronjobs"]),
        rule(
            WRITE,
            &[EXTENSIONS],
            &[
                "daemonsets",
                "deployments",
                "deployments/scale",
                "deployments/rollback",
                "ingresses",
                "replicasets",
                "replicasets/scale",
                "replicationcontrollers/scale",
                "networkpolicies",
            ],
        ),
        rule(WRITE, &[POLICY], &["poddisruptionbudgets"]),
        rule(WRITE, &[NETWORKING], &["networkpolicies", "ingresses"]),
    ]
}

/// What `view` grants: reading everything in a namespace that does not
/// give more power (so not Secrets).
fn aggregate_to_view() -> Vec<Value> {
    vec![
        rule(
            READ,
            &[CORE],
            &[
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "configmaps",
            ],
        ),
        rule(
            READ,
            &[CORE],
            &[
                "limitranges",
                "resourcequotas",
                "bindings",
                "events",
                "pods/status",
                "resourcequotas/status",
                "namespaces/status",
                "replicationcontrollers/status",
                "pods/log",
            ],
        ),
        rule(READ, &[CORE], &["namespaces"]),
        rule(READ, &[DISCOVERY], &["endpointslices"]),
        rule(
            READ,
            &[APPS],
            &[
                "controllerrevisions",
                "statefulsets",
                "statefulsets/status",
                "statefulsets/scale",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/status",
                "deployments/scale",
                "replicasets",
                "replicasets/status",
                "replicasets/scale",
            ],
        ),
        rule(
            READ,
            &[AUTOSCALING],
            &[
                "horizontalpodautoscalers",
                "horizontalpodautoscalers/status",
            ],
        ),
        rule(
            READ,
            &[BATCH],
            &["jobs", "cronjobs", "cronjobs/status", "jobs/status"],
        ),
        rule(
            READ,
            &[EXTENSIONS],
            &[
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "ingresses",
                "ingresses/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "replicationcontrollers/scale",
                "networkpolicies",
            ],
        ),
        rule(
            READ,
            &[POLICY],
            &["poddisruptionbudgets", "poddisruptionbudgets/status"],
        ),
        rule(
            READ,
            &[NETWORKING],
            &["networkpolicies", "ingresses", "ingresses/status"],
        ),
    ]
}

/// A subject: `kind` is `User`, `Group` or `ServiceAccount`
/// (`namespace/name`).
fn subject(kind: &str, name: &str) -> Value {
    match (kind, name.split_once('/')) {
        ("ServiceAccount", Some((namespace, name))) => {
            json!({"kind": kind, "name": name, "namespace": namespace})
        }
        _ => json!({"kind": kind, "apiGroup": RBAC, "name": name}),
    }
}

/// A binding of the cluster role of the same name to `subjects`.
fn binding(name: &str, subjects: Vec<Value>) -> Value {
    let mut b = json!({
        "apiVersion": API_VERSION,
        "kind": "ClusterRoleBinding",
        "metadata": metadata(name, &[]),
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": name},
    });
    if !subjects.is_empty() {
        b["subjects"] = Value::Array(subjects);
    }
    b
}

/// The default cluster role bindings.
pub fn cluster_role_bindings() -> Vec<Value> {
    let authenticated = || subject("Group", "system:authenticated");
    vec![
        binding("cluster-admin", vec![subject("Group", "system:masters")]),
        binding("system:discovery", vec![authenticated()]),
        binding("system:basic-user", vec![authenticated()]),
        binding(
            "system:public-info-viewer",
            vec![authenticated(), subject("Group", "system:unauthenticated")],
        ),
        binding(
            "system:monitoring",
            vec![subject("Group", "system:monitoring")],
        ),
        binding(
            "system:node-proxier",
            vec![subject("User", "system:kube-proxy")],
        ),
        binding(
            "system:kube-controller-manager",
            vec![subject("User", "system:kube-controller-manager")],
        ),
        binding(
            "system:kube-dns",
            vec![subject("ServiceAccount", "kube-system/kube-dns")],
        ),
        binding(
            "system:kube-scheduler",
            vec![subject("User", "system:kube-scheduler")],
        ),
        binding(
            "system:volume-scheduler",
            vec![subject("User", "system:kube-scheduler")],
        ),
        // Upstream keeps this binding without subjects: nodes are
        // authorized by the Node authorizer.
        binding("system:node", vec![]),
    ]
}

/// Every default object: the cluster roles, then their bindings.
pub fn objects() -> impl Iterator<Item = Value> {
    cluster_roles().into_iter().chain(cluster_role_bindings())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources;
    use crate::validation::rbac::{self as validation, Scope};

    fn role(name: &str) -> Value {
        cluster_roles()
            .into_iter()
            .find(|r| r["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no cluster role {name}"))
    }

    fn grants(role: &Value, verb: &str, group: &str, resource: &str) -> bool {
        let has = |r: &Value, k: &str, v: &str| {
            r[k].as_array()
                .is_some_and(|a| a.iter().any(|x| x == v || x == "*"))
        };
        role["rules"].as_array().is_some_and(|rules| {
            rules.iter().any(|r| {
                has(r, "verbs", verb) && has(r, "apiGroups", group) && has(r, "resources", resource)
            })
        })
    }

    #[test]
    fn cluster_admin_may_do_anything() {
        let admin = role("cluster-admin");
        assert_eq!(
            admin["rules"],
            json!([
                {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                {"verbs": ["*"], "nonResourceURLs": ["*"]},
            ])
        );
        let binding = cluster_role_bindings()
            .into_iter()
            .find(|b| b["metadata"]["name"] == "cluster-admin")
            .unwrap();
        assert_eq!(
            binding["subjects"],
            json!([{"kind": "Group", "apiGroup": RBAC, "name": "system:masters"}])
        );
    }

    #[test]
    fn admin_edit_and_view_aggregate_by_label() {
        let selector = |r: &Value| r["aggregationRule"]["clusterRoleSelectors"].clone();
        for name in ["admin", "edit", "view"] {
            let r = role(name);
            assert_eq!(
                selector(&r),
                json!([{"matchLabels": {format!("{AGGREGATE_TO}{name}"): "true"}}])
            );
            assert!(r.get("rules").is_none(), "{name} has rules of its own");
            let source = role(&format!("system:aggregate-to-{name}"));
            assert_eq!(
                source["metadata"]["labels"][format!("{AGGREGATE_TO}{name}")],
                "true"
            );
        }
        // view feeds edit, which feeds admin.
        assert_eq!(
            role("view")["metadata"]["labels"][format!("{AGGREGATE_TO}edit")],
            "true"
        );
        assert_eq!(
            role("edit")["metadata"]["labels"][format!("{AGGREGATE_TO}admin")],
            "true"
        );
    }

    #[test]
    fn view_reads_workloads_but_not_secrets_and_edit_writes_them() {
        let view = role("system:aggregate-to-view");
        assert!(grants(&view, "list", "apps", "statefulsets"));
        assert!(grants(&view, "get", "", "pods/log"));
        assert!(!grants(&view, "get", "", "secrets"));
        assert!(!grants(&view, "create", "apps", "statefulsets"));
        let edit = role("system:aggregate-to-edit");
        for verb in ["create", "update", "patch", "delete"] {
            assert!(grants(&edit, verb, "apps", "statefulsets"), "{verb}");
        }
        assert!(grants(&edit, "get", "", "secrets"));
        // kubectl scale and rollout: the Deployment, its scale, its
        // ReplicaSets.
        for resource in ["deployments", "deployments/scale", "replicasets/scale"] {
            assert!(grants(&edit, "patch", "apps", resource), "{resource}");
            assert!(grants(&view, "get", "apps", resource), "{resource}");
        }
        assert!(grants(&view, "list", "apps", "replicasets"));
        assert!(grants(&view, "get", "apps", "deployments/status"));
        assert!(!grants(&view, "patch", "apps", "deployments"));
        assert!(grants(
            &role("system:aggregate-to-admin"),
            "create",
            RBAC,
            "rolebindings"
        ));
    }

    #[test]
    fn every_default_object_is_labelled_valid_and_served() {
        let mut names = std::collections::HashSet::new();
        for object in objects() {
            let kind = object["kind"].as_str().unwrap();
            let name = object["metadata"]["name"].as_str().unwrap();
            assert!(names.insert((kind.to_string(), name.to_string())), "{name}");
            assert!(resources::by_kind(RBAC, kind).is_some());
            assert_eq!(
                object["metadata"]["labels"][BOOTSTRAPPING_LABEL],
                BOOTSTRAPPING_VALUE
            );
            assert_eq!(
                object["metadata"]["annotations"][AUTOUPDATE_ANNOTATION],
                "true"
            );
            let errs = match kind {
                "ClusterRole" => validation::validate_cluster_role(&object),
                _ => validation::validate_binding(&object, Scope::Cluster),
            };
            assert!(errs.is_empty(), "{name}: {errs:?}");
        }
        for wanted in [
            "system:discovery",
            "system:basic-user",
            "system:public-info-viewer",
            "system:kube-controller-manager",
            "system:kube-scheduler",
            "system:node",
            "system:kube-dns",
        ] {
            assert!(
                names.contains(&("ClusterRole".into(), wanted.into())),
                "{wanted}"
            );
        }
        // Every binding names a default role.
        for b in cluster_role_bindings() {
            let target = b["roleRef"]["name"].as_str().unwrap();
            assert!(
                names.contains(&("ClusterRole".into(), target.into())),
                "{target}"
            );
        }
    }
}
