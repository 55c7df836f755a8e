//! Who each component of `ordinal up` is to the API server, and what RBAC
//! lets it do: each has its own token and kubeconfig and none of them is
//! the admin.
//!
//! - the controllers are `system:ordinal-controller`: they read, update
//!   and delete every kind (the garbage collector and the namespace
//!   controller act on any kind), and create only the kinds they make;
//! - the node agent and its service proxy are `system:node:<name>` in
//!   `system:nodes`: upstream's `system:node` and `system:node-proxier`
//!   roles, and reading ServiceAccounts (their image pull secrets);
//! - the cluster DNS is `system:ordinal-dns`: it lists and watches
//!   Services and EndpointSlices.

use ordinal_apiserver::server::Component;
use serde_json::{Value, json};

/// The file names of the components' kubeconfigs.
pub const CONTROLLER: &str = "controller";
/// The node agent's.
pub const NODE: &str = "node";
/// The cluster DNS's.
pub const DNS: &str = "dns";

const CONTROLLER_USER: &str = "system:ordinal-controller";
const DNS_USER: &str = "system:ordinal-dns";
const NODES: &str = "system:nodes";

/// The identities of `ordinal up`'s components on a node named `node`.
pub fn components(node: &str) -> Vec<Component> {
    vec![
        Component {
            file: CONTROLLER.into(),
            user: CONTROLLER_USER.into(),
            groups: Vec::new(),
        },
        Component {
            file: NODE.into(),
            user: format!("system:node:{node}"),
            groups: vec![NODES.into()],
        },
        Component {
            file: DNS.into(),
            user: DNS_USER.into(),
            groups: Vec::new(),
        },
    ]
}

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> Value {
    json!({ "apiGroups": groups, "resources": resources, "verbs": verbs })
}

fn cluster_role(name: &str, rules: Vec<Value>) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": { "name": name, "labels": { "app.kubernetes.io/managed-by": "ordinal" } },
        "rules": rules,
    })
}

fn binding(name: &str, role: &str, subject: Value) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": { "name": name, "labels": { "app.kubernetes.io/managed-by": "ordinal" } },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role },
        "subjects": [subject],
    })
}

fn user(name: &str) -> Value {
    json!({ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name })
}

/// The roles and bindings of the components, made at start when absent.
pub fn policy() -> Vec<Value> {
    let nodes = json!({ "apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": NODES });
    vec![
        cluster_role(
            "system:ordinal:controller",
            vec![
                rule(
                    &[
                        "get",
                        "list",
                        "watch",
                        "update",
                        "patch",
                        "delete",
                        "deletecollection",
                    ],
                    &["*"],
                    &["*"],
                ),
                rule(
                    &["create"],
                    &[""],
                    &[
                        "pods",
                        "pods/binding",
                        "pods/eviction",
                        "persistentvolumeclaims",
                        "persistentvolumes",
                        "serviceaccounts",
                        "configmaps",
                        "endpoints",
                        "events",
                    ],
                ),
                rule(
                    &["create"],
                    &["apps"],
                    &["controllerrevisions", "replicasets"],
                ),
                rule(&["create"], &["batch"], &["jobs"]),
                rule(&["create"], &["discovery.k8s.io"], &["endpointslices"]),
                rule(&["create"], &["events.k8s.io"], &["events"]),
                rule(&["create"], &["coordination.k8s.io"], &["leases"]),
                rule(&["create"], &["storage.k8s.io"], &["storageclasses"]),
                // The cluster-role aggregation writes rules it does not hold.
                rule(
                    &["escalate"],
                    &["rbac.authorization.k8s.io"],
                    &["clusterroles"],
                ),
            ],
        ),
        binding(
            "system:ordinal:controller",
            "system:ordinal:controller",
            user(CONTROLLER_USER),
        ),
        cluster_role(
            "system:ordinal:node",
            vec![rule(&["get", "list", "watch"], &[""], &["serviceaccounts"])],
        ),
        binding("system:ordinal:node", "system:ordinal:node", nodes.clone()),
        binding("system:ordinal:node-rights", "system:node", nodes.clone()),
        binding("system:ordinal:node-proxier", "system:node-proxier", nodes),
        cluster_role(
            "system:ordinal:dns",
            vec![
                rule(&["list", "watch"], &[""], &["services", "endpoints"]),
                rule(
                    &["list", "watch"],
                    &["discovery.k8s.io"],
                    &["endpointslices"],
                ),
            ],
        ),
        binding("system:ordinal:dns", "system:ordinal:dns", user(DNS_USER)),
    ]
}
