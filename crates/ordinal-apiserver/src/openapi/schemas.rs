//! The schemas of the served types: what `kubectl explain` prints, what
//! kubectl 1.27/1.28 validate a manifest against, and what `kubectl apply`
//! computes strategic merge patches from.
//!
//! Three sources make one schema set:
//!
//! - **Types and field docs** come from k8s-openapi's JSON schemas (its
//!   `schemars` feature), which it generates from upstream's own OpenAPI
//!   document: every description is upstream's, every reference is named as
//!   upstream names it (`io.k8s.api.apps.v1.StatefulSetSpec`).
//! - **Patch and list extensions** (`x-kubernetes-patch-strategy`,
//!   `x-kubernetes-patch-merge-key`, `x-kubernetes-list-type`,
//!   `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`) come from
//!   `ordinal-merge`'s tables, the same ones the server's strategic merge and
//!   server-side apply use, so kubectl's patches and the server's merge agree
//!   by construction. k8s-openapi's schemas carry almost none of them.
//! - **`x-kubernetes-group-version-kind`** comes from the resource table: a
//!   schema names the kinds it is served as, which is how kubectl finds a
//!   kind's schema.
//!
//! The result is one map from schema name to schema whose references point
//! at `#/definitions/<name>` (the Swagger 2.0 spelling); the v3 documents
//! rewrite them.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use k8s_openapi::schemars::{SchemaGenerator, generate::SchemaSettings};
use ordinal_merge::schema::{self as merge, ListType, PatchStrategy};
use serde_json::{Map, Value, json};

use crate::resources::{self, RESOURCES};

use super::schema_name;

/// The prefix of a reference in the shared set.
pub(super) const REF_PREFIX: &str = "#/definitions/";

/// Every schema, by name, with references spelled `#/definitions/<name>`.
pub(super) fn definitions() -> &'static Map<String, Value> {
    static DEFS: OnceLock<Map<String, Value>> = OnceLock::new();
    DEFS.get_or_init(build)
}

/// The names `refs` reach, themselves included, sorted.
pub(super) fn closure(refs: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    let defs = definitions();
    let mut out = BTreeSet::new();
    let mut todo: Vec<String> = refs.into_iter().collect();
    while let Some(name) = todo.pop() {
        if !out.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = defs.get(&name) {
            each_ref(schema, &mut |r| todo.push(r.to_string()));
        }
    }
    out
}

/// Calls `f` with the target name of every reference in `schema`.
pub(super) fn each_ref(schema: &Value, f: &mut impl FnMut(&str)) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix(REF_PREFIX) {
                            f(name);
                        }
                    }
                    _ => each_ref(value, f),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| each_ref(v, f)),
        _ => {}
    }
}

/// A kind the documents name in a body or a response.
struct Root {
    group: &'static str,
    version: &'static str,
    kind: String,
    /// Whether to tag the schema with the kind (served kinds and their
    /// lists; upstream tags subresource bodies too).
    tag: bool,
}

/// The schema of one root kind, added to `generator`'s definitions; `false` for
/// a kind this table does not know (a test requires every served kind).
fn generate(generator: &mut SchemaGenerator, group: &str, version: &str, kind: &str) -> bool {
    use k8s_openapi::api::{
        apps::v1 as apps, authentication::v1 as authentication, authorization::v1 as authorization,
        autoscaling::v1 as autoscaling, batch::v1 as batch, coordination::v1 as coordination,
        core::v1 as core, discovery::v1 as discovery, events::v1 as events, node::v1 as node,
        policy::v1 as policy, rbac::v1 as rbac, scheduling::v1 as scheduling,
        storage::v1 as storage,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
    macro_rules! kinds {
        ($($g:literal $k:literal => $t:ty),* $(,)?) => {
            match (group, version, kind) {
                $(($g, "v1", $k) => { generator.subschema_for::<$t>(); true })*
                _ => false,
            }
        };
    }
    kinds! {
        "" "Binding" => core::Binding,
        "" "ConfigMap" => core::ConfigMap,
        "" "Endpoints" => core::Endpoints,
        "" "Event" => core::Event,
        "" "Namespace" => core::Namespace,
        "" "Node" => core::Node,
        "" "PersistentVolume" => core::PersistentVolume,
        "" "PersistentVolumeClaim" => core::PersistentVolumeClaim,
        "" "Pod" => core::Pod,
        "" "Secret" => core::Secret,
        "" "Service" => core::Service,
        "" "ServiceAccount" => core::ServiceAccount,
        "" "DeleteOptions" => meta::DeleteOptions,
        "" "ListMeta" => meta::ListMeta,
        "" "Patch" => meta::Patch,
        "" "Status" => meta::Status,
        "apps" "ControllerRevision" => apps::ControllerRevision,
        "apps" "Deployment" => apps::Deployment,
        "apps" "ReplicaSet" => apps::ReplicaSet,
        "authentication.k8s.io" "SelfSubjectReview" => authentication::SelfSubjectReview,
        "authentication.k8s.io" "TokenRequest" => authentication::TokenRequest,
        "authentication.k8s.io" "TokenReview" => authentication::TokenReview,
        "authorization.k8s.io" "LocalSubjectAccessReview" => authorization::LocalSubjectAccessReview,
        "authorization.k8s.io" "SelfSubjectAccessReview" => authorization::SelfSubjectAccessReview,
        "authorization.k8s.io" "SelfSubjectRulesReview" => authorization::SelfSubjectRulesReview,
        "authorization.k8s.io" "SubjectAccessReview" => authorization::SubjectAccessReview,
        "apps" "StatefulSet" => apps::StatefulSet,
        "autoscaling" "Scale" => autoscaling::Scale,
        "batch" "CronJob" => batch::CronJob,
        "batch" "Job" => batch::Job,
        "coordination.k8s.io" "Lease" => coordination::Lease,
        "discovery.k8s.io" "EndpointSlice" => discovery::EndpointSlice,
        "events.k8s.io" "Event" => events::Event,
        "node.k8s.io" "RuntimeClass" => node::RuntimeClass,
        "policy" "Eviction" => policy::Eviction,
        "policy" "PodDisruptionBudget" => policy::PodDisruptionBudget,
        "rbac.authorization.k8s.io" "ClusterRole" => rbac::ClusterRole,
        "rbac.authorization.k8s.io" "ClusterRoleBinding" => rbac::ClusterRoleBinding,
        "rbac.authorization.k8s.io" "Role" => rbac::Role,
        "rbac.authorization.k8s.io" "RoleBinding" => rbac::RoleBinding,
        "scheduling.k8s.io" "PriorityClass" => scheduling::PriorityClass,
        "storage.k8s.io" "StorageClass" => storage::StorageClass,
        "apiextensions.k8s.io" "CustomResourceDefinition" => k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    }
}

/// Every kind a document refers to: the served kinds, their lists, the
/// bodies of their subresources, and the meta types of every group.
fn roots() -> Vec<Root> {
    let mut out = Vec::new();
    for r in RESOURCES {
        out.push(Root {
            group: r.group,
            version: r.version,
            kind: r.kind.to_string(),
            tag: true,
        });
        if r.verbs.contains(&"list") {
            out.push(Root {
                group: r.group,
                version: r.version,
                kind: r.list_kind(),
                tag: true,
            });
        }
        for s in r.subresources {
            out.push(Root {
                group: s.group,
                version: s.version,
                kind: s.kind.to_string(),
                tag: true,
            });
        }
    }
    for kind in ["DeleteOptions", "Status", "Patch", "ListMeta"] {
        out.push(Root {
            group: "",
            version: "v1",
            kind: kind.into(),
            tag: kind == "Status",
        });
    }
    out
}

fn build() -> Map<String, Value> {
    let mut generator = SchemaSettings::draft07()
        .with(|s| {
            s.meta_schema = None;
            s.transforms.clear();
        })
        .into_generator();
    let roots = roots();
    for root in &roots {
        if root.kind.ends_with("List") || connect_options(&root.kind) {
            continue;
        }
        generate(&mut generator, root.group, root.version, &root.kind);
    }
    let mut defs = generator.take_definitions(false);
    for root in roots.iter().filter(|r| r.kind.ends_with("List")) {
        let item = root.kind.trim_end_matches("List");
        let name = schema_name(root.group, root.version, &root.kind);
        defs.insert(name, list_schema(root.group, root.version, item));
    }
    let mut tagged = BTreeSet::new();
    for root in roots.iter().filter(|r| r.tag) {
        let name = schema_name(root.group, root.version, &root.kind);
        let Some(Value::Object(schema)) = defs.get_mut(&name) else {
            continue;
        };
        if tagged.insert(name) {
            let gvks = schema
                .entry("x-kubernetes-group-version-kind")
                .or_insert_with(|| json!([]));
            if let Value::Array(list) = gvks {
                list.push(
                    json!({ "group": root.group, "kind": root.kind, "version": root.version }),
                );
            }
        }
        // k8s-openapi requires `metadata` because its Rust field is not an
        // `Option`; upstream's schemas require only what the API does.
        if let Some(Value::Array(required)) = schema.get_mut("required") {
            required.retain(|f| f != "metadata");
            if required.is_empty() {
                schema.remove("required");
            }
        }
    }
    // DeleteOptions is accepted by every group-version; upstream tags it
    // with each of them.
    if let Some(Value::Object(schema)) = defs.get_mut(&schema_name("", "v1", "DeleteOptions")) {
        let mut gvks = vec![json!({ "group": "", "kind": "DeleteOptions", "version": "v1" })];
        for group in resources::GROUPS {
            for version in resources::versions(group) {
                gvks.push(json!({ "group": group, "kind": "DeleteOptions", "version": version }));
            }
        }
        schema.insert("x-kubernetes-group-version-kind".into(), Value::Array(gvks));
    }
    let mut done = BTreeSet::new();
    // A kind without patch metadata would mark the types it shares with
    // others (ObjectMeta) as done with none.
    for r in RESOURCES
        .iter()
        .filter(|r| merge::is_known(r.group, r.kind))
    {
        let name = schema_name(r.group, r.version, r.kind);
        annotate(
            &mut defs,
            &name,
            r.group,
            r.kind,
            &mut Vec::new(),
            &mut done,
        );
    }
    defs
}

/// `<Kind>List`: upstream's shape of every list kind.
fn list_schema(group: &str, version: &str, item: &str) -> Value {
    json!({
        "description": format!("{item}List is a list of {item} objects."),
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object.",
                "type": "string",
            },
            "items": {
                "description": format!("The {item} objects of the list."),
                "type": "array",
                "items": { "$ref": format!("{REF_PREFIX}{}", schema_name(group, version, item)) },
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this object represents.",
                "type": "string",
            },
            "metadata": {
                "$ref": format!("{REF_PREFIX}{}", schema_name("", "v1", "ListMeta")),
                "description": "Standard list metadata.",
            },
        },
        "required": ["items"],
    })
}

/// Adds the patch and list extensions of `ordinal-merge`'s tables to the
/// properties of schema `name`, found at `path` under kind `kind`, and to
/// every schema below it. A schema is annotated once: each Go type has one
/// set of markers wherever it appears.
fn annotate(
    defs: &mut Map<String, Value>,
    name: &str,
    group: &str,
    kind: &str,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) {
    if !done.insert(name.to_string()) {
        return;
    }
    let Some(Value::Object(schema)) = defs.get_mut(name) else {
        return;
    };
    let mut below = Vec::new();
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        for (field, prop) in props.iter_mut() {
            path.push(field.clone());
            let at: Vec<&str> = path.iter().map(String::as_str).collect();
            let info = merge::field(group, kind, &at);
            let Value::Object(prop) = prop else {
                path.pop();
                continue;
            };
            let is_list = prop.get("type").is_some_and(|t| t == "array");
            let is_map = prop.contains_key("additionalProperties");
            let strategy = match info.patch_strategy {
                PatchStrategy::Replace => None,
                PatchStrategy::Merge => Some("merge"),
                PatchStrategy::RetainKeys => Some("retainKeys"),
                PatchStrategy::MergeRetainKeys => Some("merge,retainKeys"),
            };
            if let Some(s) = strategy {
                prop.insert("x-kubernetes-patch-strategy".into(), json!(s));
            }
            if let Some(key) = info.patch_merge_key {
                prop.insert("x-kubernetes-patch-merge-key".into(), json!(key));
            }
            if is_list {
                match info.list_type {
                    ListType::Atomic => {}
                    ListType::Set => {
                        prop.insert("x-kubernetes-list-type".into(), json!("set"));
                    }
                    ListType::Map(keys) => {
                        prop.insert("x-kubernetes-list-type".into(), json!("map"));
                        prop.insert("x-kubernetes-list-map-keys".into(), json!(keys));
                    }
                }
            }
            let target = reference(prop);
            if info.atomic {
                if is_map || target.is_none() {
                    prop.insert("x-kubernetes-map-type".into(), json!("atomic"));
                } else if let Some(t) = &target {
                    below.push((t.clone(), path.clone(), true));
                    path.pop();
                    continue;
                }
            }
            if let Some(t) = target {
                let mut at = path.clone();
                if is_map {
                    // A map of objects: the tables name a key's value by
                    // any key.
                    at.push("*".into());
                }
                below.push((t, at, false));
            }
            path.pop();
        }
    }
    for (target, mut at, atomic) in below {
        if atomic && let Some(Value::Object(s)) = defs.get_mut(&target) {
            s.insert("x-kubernetes-map-type".into(), json!("atomic"));
        }
        annotate(defs, &target, group, kind, &mut at, done);
    }
}

/// The schema a property refers to, directly or as its elements or values.
fn reference(prop: &Map<String, Value>) -> Option<String> {
    let direct = prop.get("$ref");
    let items = prop.get("items").and_then(|i| i.get("$ref"));
    let values = prop.get("additionalProperties").and_then(|v| v.get("$ref"));
    direct
        .or(items)
        .or(values)
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix(REF_PREFIX))
        .map(str::to_string)
}

/// Whether the table above has a schema for a kind; the tests use it.
/// The option kinds of connect subresources (`exec`, `attach`,
/// `portforward`): query parameters, never bodies, so no schema (as
/// upstream's documents have none).
fn connect_options(kind: &str) -> bool {
    matches!(
        kind,
        "PodExecOptions" | "PodAttachOptions" | "PodPortForwardOptions"
    )
}

#[cfg(test)]
fn known(group: &str, version: &str, kind: &str) -> bool {
    let mut generator = SchemaSettings::draft07().into_generator();
    generate(&mut generator, group, version, kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str) -> &'static Map<String, Value> {
        definitions()
            .get(name)
            .and_then(Value::as_object)
            .unwrap_or_else(|| panic!("no schema {name}"))
    }

    fn prop<'a>(schema: &'a Map<String, Value>, field: &str) -> &'a Value {
        &schema["properties"][field]
    }

    #[test]
    fn every_served_kind_and_body_has_a_schema() {
        for root in roots() {
            if root.kind.ends_with("List") || connect_options(&root.kind) {
                continue;
            }
            assert!(
                known(root.group, root.version, &root.kind),
                "{}/{} {} has no schema",
                root.group,
                root.version,
                root.kind
            );
        }
        for r in RESOURCES {
            let s = def(&schema_name(r.group, r.version, r.kind));
            assert_eq!(
                s["x-kubernetes-group-version-kind"],
                json!([{ "group": r.group, "kind": r.kind, "version": r.version }]),
                "{}",
                r.kind
            );
            assert!(s["description"].as_str().is_some_and(|d| !d.is_empty()));
        }
    }

    #[test]
    fn every_reference_resolves() {
        let defs = definitions();
        for (name, schema) in defs {
            each_ref(schema, &mut |r| {
                assert!(defs.contains_key(r), "{name} refers to missing {r}");
            });
        }
    }

    #[test]
    fn patch_extensions_follow_upstream_markers() {
        let spec = def("io.k8s.api.core.v1.PodSpec");
        let containers = prop(spec, "containers");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        let volumes = prop(spec, "volumes");
        assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
        let container = def("io.k8s.api.core.v1.Container");
        assert_eq!(
            prop(container, "ports")["x-kubernetes-patch-merge-key"],
            "containerPort"
        );
        assert_eq!(
            prop(container, "ports")["x-kubernetes-list-map-keys"],
            json!(["containerPort", "protocol"])
        );
        assert_eq!(
            prop(container, "env")["x-kubernetes-patch-merge-key"],
            "name"
        );
        // An untagged list carries nothing.
        assert!(
            prop(container, "args")
                .get("x-kubernetes-patch-strategy")
                .is_none()
        );
        let meta = def("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
        assert_eq!(
            prop(meta, "ownerReferences")["x-kubernetes-patch-merge-key"],
            "uid"
        );
        assert_eq!(
            def("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector")["x-kubernetes-map-type"],
            "atomic"
        );
        assert_eq!(
            prop(spec, "nodeSelector")["x-kubernetes-map-type"],
            "atomic"
        );
    }

    #[test]
    fn every_marker_of_the_merge_tables_is_published() {
        // Walk the published schemas of each kind the way kubectl does and
        // ask the tables about every field on the way: each tagged field
        // must carry its tags.
        fn walk(
            name: &str,
            group: &str,
            kind: &str,
            path: &mut Vec<String>,
            depth: usize,
            seen: &mut usize,
        ) {
            if depth > 12 {
                return;
            }
            let Some(schema) = definitions().get(name).and_then(Value::as_object) else {
                return;
            };
            let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                return;
            };
            for (field, p) in props {
                path.push(field.clone());
                let at: Vec<&str> = path.iter().map(String::as_str).collect();
                let info = merge::field(group, kind, &at);
                if let Some(key) = info.patch_merge_key {
                    assert_eq!(p["x-kubernetes-patch-merge-key"], key, "{kind} {at:?}");
                    *seen += 1;
                }
                if info.patch_strategy.merges() {
                    let s = p["x-kubernetes-patch-strategy"]
                        .as_str()
                        .unwrap_or_default();
                    assert!(s.contains("merge"), "{kind} {at:?}");
                }
                let p = p.as_object().unwrap();
                if let Some(t) = reference(p) {
                    walk(&t, group, kind, path, depth + 1, seen);
                }
                path.pop();
            }
        }
        let mut seen = 0;
        for r in RESOURCES {
            walk(
                &schema_name(r.group, r.version, r.kind),
                r.group,
                r.kind,
                &mut Vec::new(),
                0,
                &mut seen,
            );
        }
        assert!(seen > 50, "only {seen} merge keys checked");
    }

    #[test]
    fn lists_and_metadata_follow_upstream() {
        let list = def("io.k8s.api.apps.v1.StatefulSetList");
        assert_eq!(
            list["properties"]["items"]["items"]["$ref"],
            "#/definitions/io.k8s.api.apps.v1.StatefulSet"
        );
        assert_eq!(
            list["x-kubernetes-group-version-kind"],
            json!([{ "group": "apps", "kind": "StatefulSetList", "version": "v1" }])
        );
        let sts = def("io.k8s.api.apps.v1.StatefulSet");
        assert!(sts.get("required").is_none());
        let scale = def("io.k8s.api.autoscaling.v1.Scale");
        assert_eq!(
            scale["x-kubernetes-group-version-kind"],
            json!([{ "group": "autoscaling", "kind": "Scale", "version": "v1" }])
        );
        let upd = def("io.k8s.api.apps.v1.RollingUpdateStatefulSetStrategy");
        assert!(
            upd["properties"]["partition"]["description"]
                .as_str()
                .unwrap()
                .contains("Partition")
        );
        let ios = def("io.k8s.apimachinery.pkg.util.intstr.IntOrString");
        assert_eq!(ios["x-kubernetes-int-or-string"], true);
    }
}
