//! The registry of served resources: one row per resource, as upstream's
//! discovery documents describe it.
//!
//! Everything that depends on "which resources exist" — routing, discovery,
//! OpenAPI, tables, storage keys — reads this table, and everything that
//! depends on "which resource is this" asks the row's
//! [`Strategy`](crate::registry::Strategy). Adding a resource is adding a
//! row and its strategy's module under `registry/`.

use crate::registry::{self, Strategy};

/// Verbs of a fully featured collection resource.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Namespaces cannot be deleted as a collection.
const NAMESPACE_VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

/// A subresource such as `pods/status` or `statefulsets/scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subresource {
    pub(crate) name: &'static str,
    /// Group, version and kind of the object the subresource speaks.
    pub(crate) group: &'static str,
    pub(crate) version: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) verbs: &'static [&'static str],
}

const fn status(group: &'static str, version: &'static str, kind: &'static str) -> Subresource {
    Subresource {
        name: "status",
        group,
        version,
        kind,
        verbs: STATUS_VERBS,
    }
}

/// One served resource.
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    /// API group; `""` is the core ("legacy") group served under `/api`.
    pub(crate) group: &'static str,
    pub(crate) version: &'static str,
    pub(crate) kind: &'static str,
    /// The URL segment: `pods`, `statefulsets`.
    pub(crate) plural: &'static str,
    pub(crate) singular: &'static str,
    pub(crate) namespaced: bool,
    pub(crate) short_names: &'static [&'static str],
    pub(crate) categories: &'static [&'static str],
    pub(crate) verbs: &'static [&'static str],
    pub(crate) subresources: &'static [Subresource],
    /// Whether `metadata.generation` is maintained (bumped on spec changes).
    pub(crate) generation: bool,
    /// What is particular to this resource.
    pub(crate) strategy: &'static dyn Strategy,
}

/// Rows are equal when they describe the same resource; the strategy
/// follows from that.
impl PartialEq for Resource {
    fn eq(&self, other: &Self) -> bool {
        (
            self.group,
            self.version,
            self.kind,
            self.plural,
            self.singular,
            self.namespaced,
            self.short_names,
            self.categories,
            self.verbs,
            self.subresources,
            self.generation,
        ) == (
            other.group,
            other.version,
            other.kind,
            other.plural,
            other.singular,
            other.namespaced,
            other.short_names,
            other.categories,
            other.verbs,
            other.subresources,
            other.generation,
        )
    }
}

impl Eq for Resource {}

impl Resource {
    /// `v1` for the core group, `apps/v1` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The list kind, e.g. `PodList`.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// The `group/resource` name upstream uses in error messages: `pods`,
    /// `statefulsets.apps`.
    pub fn qualified_name(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub(crate) fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }

    pub(crate) fn has_status(&self) -> bool {
        self.subresource("status").is_some()
    }

    /// The storage key prefix of this resource: `/core/pods/` (the
    /// prefix of the resource it is stored as, for one that is another's
    /// under other names: see [`Strategy::storage_prefix`]).
    pub fn key_prefix(&self) -> String {
        if let Some(prefix) = self.strategy.storage_prefix() {
            return prefix.to_string();
        }
        let group = if self.group.is_empty() {
            "core"
        } else {
            self.group
        };
        format!("/{group}/{}/", self.plural)
    }

    /// The storage key prefix of one namespace: `/core/pods/default/`.
    pub fn namespace_prefix(&self, namespace: &str) -> String {
        format!("{}{namespace}/", self.key_prefix())
    }

    /// The storage key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match (self.namespaced, namespace) {
            (true, Some(ns)) => format!("{}{ns}/{name}", self.key_prefix()),
            _ => format!("{}{name}", self.key_prefix()),
        }
    }
}

macro_rules! resource {
    ($group:expr, $version:expr, $kind:expr, $plural:expr, $singular:expr, $namespaced:expr,
     short: [$($short:expr),*], cat: [$($cat:expr),*], verbs: $verbs:expr, sub: [$($sub:expr),*], generation: $gen:expr,
     strategy: $strategy:expr) => {
        Resource {
            group: $group,
            version: $version,
            kind: $kind,
            plural: $plural,
            singular: $singular,
            namespaced: $namespaced,
            short_names: &[$($short),*],
            categories: &[$($cat),*],
            verbs: $verbs,
            subresources: &[$($sub),*],
            generation: $gen,
            strategy: &$strategy,
        }
    };
}

/// Namespaces: `check_namespace_open` and the URL grammar name them.
pub const NAMESPACES: Resource = resource!("", "v1", "Namespace", "namespaces", "namespace", false,
        short: ["ns"], cat: [], verbs: NAMESPACE_VERBS,
        sub: [status("", "v1", "Namespace"),
              Subresource { name: "finalize", group: "", version: "v1", kind: "Namespace", verbs: &["update"] }],
        generation: false,
        strategy: registry::core::namespace::NamespaceStrategy);

/// Nodes, where the kubelet endpoints are found.
pub const NODES: Resource = resource!("", "v1", "Node", "nodes", "node", false,
        short: ["no"], cat: [], verbs: ALL_VERBS, sub: [status("", "v1", "Node")], generation: false,
        strategy: registry::core::node::NodeStrategy);

/// Pods, whose `log`, `exec`, `attach` and `portforward` subresources
/// stream.
pub const PODS: Resource = resource!("", "v1", "Pod", "pods", "pod", true,
        short: ["po"], cat: ["all"], verbs: ALL_VERBS,
        sub: [
            Subresource { name: "attach", group: "", version: "v1", kind: "PodAttachOptions", verbs: &["create", "get"] },
            Subresource { name: "binding", group: "", version: "v1", kind: "Binding", verbs: &["create"] },
            Subresource { name: "eviction", group: "policy", version: "v1", kind: "Eviction", verbs: &["create"] },
            Subresource { name: "exec", group: "", version: "v1", kind: "PodExecOptions", verbs: &["create", "get"] },
            Subresource { name: "log", group: "", version: "v1", kind: "Pod", verbs: &["get"] },
            Subresource { name: "portforward", group: "", version: "v1", kind: "PodPortForwardOptions", verbs: &["create", "get"] },
            status("", "v1", "Pod")
        ],
        generation: true,
        strategy: registry::core::pod::PodStrategy);

/// Services, whose addresses the allocator hands out.
pub const SERVICES: Resource = resource!("", "v1", "Service", "services", "service", true,
        short: ["svc"], cat: ["all"], verbs: ALL_VERBS, sub: [status("", "v1", "Service")],
        generation: false,
        strategy: registry::core::service::ServiceStrategy);

/// StorageClasses, which claims admission reads.
pub const STORAGE_CLASSES: Resource = resource!("storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", false,
        short: ["sc"], cat: [], verbs: ALL_VERBS, sub: [], generation: false,
        strategy: registry::storage::storage_class::StorageClassStrategy);

/// RuntimeClasses, which pod admission reads.
pub const RUNTIME_CLASSES: Resource = resource!("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", "runtimeclass", false,
        short: [], cat: [], verbs: ALL_VERBS, sub: [], generation: false,
        strategy: registry::node::runtime_class::RuntimeClassStrategy);

/// PriorityClasses, which pod admission reads.
pub const PRIORITY_CLASSES: Resource = resource!("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass", false,
        short: ["pc"], cat: [], verbs: ALL_VERBS, sub: [], generation: false,
        strategy: registry::scheduling::priority_class::PriorityClassStrategy);

/// CustomResourceDefinitions: a write to one changes what is served.
pub const CUSTOM_RESOURCE_DEFINITIONS: Resource = resource!("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
        "customresourcedefinitions", "customresourcedefinition", false,
        short: ["crd", "crds"], cat: ["api-extensions"], verbs: ALL_VERBS,
        sub: [status("apiextensions.k8s.io", "v1", "CustomResourceDefinition")], generation: true,
        strategy: registry::apiextensions::custom_resource_definition::CustomResourceDefinitionStrategy);

/// Every served resource, in discovery order.
pub static RESOURCES: &[Resource] = &[
    resource!("", "v1", "ConfigMap", "configmaps", "configmap", true,
        short: ["cm"], cat: [], verbs: ALL_VERBS, sub: [], generation: false,
        strategy: registry::core::config_map::ConfigMapStrategy),
    resource!("", "v1", "Endpoints", "endpoints", "endpoints", true,
        short: ["ep"], cat: [], verbs: ALL_VERBS, sub: [], generation: false,
        strategy: registry::core::endpoints::EndpointsStrategy),
    resource!("", "v1", "Event", "events", "event", true,
        short: ["ev"], cat: [], verbs: ALL_VERBS, sub: [], generation: false,
        strategy: registry::core::event::EventStrategy),
    NAMESPACES,
    NODES,
    resource!("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", true,
        short: ["pvc"], cat: [], verbs: ALL_VERBS, sub: [status("", "v1", "PersistentVolumeClaim")],
        generation: false,
        strategy: registry::core::persistent_volume_claim::PersistentVolumeClaimStrategy),
    resource!("", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", false,
        short: ["pv"], cat: [], verbs: ALL_VERBS, sub: [status("", "v1", "PersistentVolume")],
        generation: false,
        strategy: registry::core::persistent_volume::PersistentVolumeStrategy),
    PODS,
    resource!("", "v1", "Secret", "secrets", "secret", true,
        short: [], cat: [], verbs: ALL_VERBS, sub: [], generation: false,
        strategy: registry::core::secret::SecretStrategy),
    resource!("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", true,
        short: ["sa"], cat: [], verbs: ALL_VERBS,
        sub: [Subresource { name: "token", group: "authentication.k8s.io", version: "v1", kind: "TokenRequest", verbs: &["create"] }],
        generation: false,
        strategy: registry::core::service_account::ServiceAccountStrategy),
    SERVICES,
    resource!("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", true,
        short: [], cat: [], verbs: ALL_VERBS, sub: [], generation: false,
        strategy: registry::apps::controller_revision::ControllerRevisionStrategy),
    resource!("apps", "v1", "Deployment", "deployments", "deployment", true,
        short: ["deploy"], cat: ["all"], verbs: ALL_VERBS,
        sub: [
            Subresource { name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: &["get", "patch", "update"] },
            status("apps", "v1", "Deployment")
        ],
        generation: true,
        strategy: registry::apps::deployment::DeploymentStrategy),
    resource!("apps", "v1", "ReplicaSet", "replicasets", "replicaset", true,
        short: ["rs"], cat: ["all"], verbs: ALL_VERBS,
        sub: [
            Subresource { name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: &["get", "patch", "update"] },
            status("apps", "v1", "ReplicaSet")
        ],
        generation: true,
        strategy: registry::apps::replica_set::ReplicaSetStrategy),
    resource!("apps", "v1", "StatefulSet", "statefulsets", "statefulset", true,
        short: ["sts"], cat: ["all"], verbs: ALL_VERBS,
        sub: [
            Subresource { name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: &["get", "patch", "update"] },
            status("apps", "v1", "StatefulSet")
        ],
        generation: true,
        strategy: registry::apps::stateful_set::StatefulSetStrategy),
    resource!("batch", "v1", "CronJob", "cronjobs", "cronjob", true,
        short: ["cj"], cat: ["all"], verbs: ALL_VERBS, sub: [status("batch", "v1", "CronJob")],
        generation: true,
        strategy: registry::batch::cron_job::CronJobStrategy),
    resource!("batch", "v1", "Job", "jobs", "job", true,
        short: [], cat: ["all"], verbs: ALL_VERBS, sub: [status("batch", "v1", "Job")],
        generation: true,
        strategy: registry::batch::job::JobStrategy),
    resource!("coordination.k8s.io", "v1", "Lease", "leases", "lease", true,
        short: [], cat: [], verbs: ALL_VERBS, sub: [], generation: false,
        strategy: registry::coordination::lease::LeaseStrategy),
    resource!("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", true,
        short: [], cat: [], verbs: ALL_VERBS, sub: [], generation: false,
        strategy: registry::discovery::endpoint_slice::EndpointSliceStrategy),
    resource!("events.k8s.io", "v1", "Event", "events", "event", true,
        short: ["ev"], cat: [], verbs: ALL_VERBS, sub: [], generation: false,
        strategy: registry::events::event::EventStrategy),
    resource!("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", true,
        short: ["pdb"], cat: [], verbs: ALL_VERBS, sub: [status("policy", "v1", "PodDisruptionBudget")],
        generation: true,
        strategy: registry::policy::pod_disruption_budget::PodDisruptionBudgetStrategy),
    resource!("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", false,
        short: [], cat: [], verbs: ALL_VERBS, sub: [], generation: false,
        strategy: registry::rbac::cluster_role_binding::ClusterRoleBindingStrategy),
    resource!("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", false,
        short: [], cat: [], verbs: ALL_VERBS, sub: [], generation: false,
        strategy: registry::rbac::cluster_role::ClusterRoleStrategy),
    resource!("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", true,
        short: [], cat: [], verbs: ALL_VERBS, sub: [], generation: false,
        strategy: registry::rbac::role_binding::RoleBindingStrategy),
    resource!("rbac.authorization.k8s.io", "v1", "Role", "roles", "role", true,
        short: [], cat: [], verbs: ALL_VERBS, sub: [], generation: false,
        strategy: registry::rbac::role::RoleStrategy),
    STORAGE_CLASSES,
    CUSTOM_RESOURCE_DEFINITIONS,
    RUNTIME_CLASSES,
    PRIORITY_CLASSES,
    resource!("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", "selfsubjectreview", false,
        short: [], cat: [], verbs: &["create"], sub: [], generation: false, strategy: registry::Plain),
    resource!("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", "tokenreview", false,
        short: [], cat: [], verbs: &["create"], sub: [], generation: false, strategy: registry::Plain),
    resource!("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", "localsubjectaccessreview", true,
        short: [], cat: [], verbs: &["create"], sub: [], generation: false, strategy: registry::Plain),
    resource!("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", "selfsubjectaccessreview", false,
        short: [], cat: [], verbs: &["create"], sub: [], generation: false, strategy: registry::Plain),
    resource!("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", "selfsubjectrulesreview", false,
        short: [], cat: [], verbs: &["create"], sub: [], generation: false, strategy: registry::Plain),
    resource!("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", "subjectaccessreview", false,
        short: [], cat: [], verbs: &["create"], sub: [], generation: false, strategy: registry::Plain),
];

/// autoscaling/v1 `Scale`, the body of every `scale` subresource
/// (`statefulsets/scale`, `deployments/scale`, ...). Not served on
/// its own (so not in [`RESOURCES`]); it names the kind in errors and picks
/// the Scale table printer.
pub static SCALE: Resource = resource!("autoscaling", "v1", "Scale", "scale", "scale", true,
    short: [], cat: [], verbs: &[], sub: [], generation: false,
        strategy: registry::autoscaling::scale::ScaleStrategy);

/// core/v1 `Binding`, the body of `pods/binding`.
pub static BINDING: Resource = resource!("", "v1", "Binding", "pods/binding", "binding", true,
    short: [], cat: [], verbs: &[], sub: [], generation: false,
        strategy: registry::Plain);

/// policy/v1 `Eviction`, the body of `pods/eviction`.
pub static EVICTION: Resource = resource!("policy", "v1", "Eviction", "pods/eviction", "eviction", true,
    short: [], cat: [], verbs: &[], sub: [], generation: false,
        strategy: registry::Plain);

/// The API groups other than core, in the order discovery lists them
/// (upstream's group priorities).
pub const GROUPS: &[&str] = &[
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "batch",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
];

/// Finds a resource by group, version and URL segment.
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Finds a resource by group and URL segment (any served version).
pub fn by_plural(group: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.plural == plural)
}

/// Finds a resource by group and kind (any served version).
pub fn by_kind(group: &str, kind: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.kind == kind)
}

/// The resources of one group-version.
pub fn in_group_version<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static Resource> + 'a {
    RESOURCES
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

/// The versions served for a group (all groups serve only `v1` today).
pub fn versions(group: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in RESOURCES.iter().filter(|r| r.group == group) {
        if !out.contains(&r.version) {
            out.push(r.version);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_is_unique_and_findable() {
        for r in RESOURCES {
            assert_eq!(lookup(r.group, r.version, r.plural), Some(r));
            assert!(
                r.group.is_empty() || GROUPS.contains(&r.group),
                "{}",
                r.group
            );
        }
    }

    #[test]
    fn keys_separate_namespaces_and_scopes() {
        let pods = lookup("", "v1", "pods").unwrap();
        assert_eq!(
            pods.key(Some("default"), "web-0"),
            "/core/pods/default/web-0"
        );
        assert!(
            pods.key(Some("default"), "web-0")
                .starts_with(&pods.namespace_prefix("default"))
        );
        assert!(
            !pods
                .key(Some("default2"), "x")
                .starts_with(&pods.namespace_prefix("default"))
        );
        let pv = lookup("", "v1", "persistentvolumes").unwrap();
        assert_eq!(pv.key(None, "pv-1"), "/core/persistentvolumes/pv-1");
        let sts = lookup("apps", "v1", "statefulsets").unwrap();
        assert_eq!(sts.qualified_name(), "statefulsets.apps");
        assert_eq!(sts.api_version(), "apps/v1");
    }
}
