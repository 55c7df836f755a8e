//! Custom resources: what a CustomResourceDefinition adds to the served
//! API, as upstream's apiextensions server does.
//!
//! Each server keeps a [`Catalog`]: the rows ([`Resource`]s) of every
//! served version of every CRD in its store, rebuilt whenever a CRD is
//! written (synchronously by the write itself, and by [`controller`], which
//! also keeps each CRD's status conditions and removes the objects of a
//! deleted CRD). Everything that asks "which resources exist" — routing,
//! discovery, OpenAPI, selectors — asks the static table and then the
//! catalog; a custom row's [`CustomStrategy`] carries the version's
//! structural schema (defaulting, pruning, validation, [`cel`] rules),
//! printer columns, selectable fields and scale paths.
//!
//! Rows are `&'static` like the built-in ones: a row is built once per
//! distinct CRD version definition and kept for the life of the process
//! (interned by content, so re-reading an unchanged CRD allocates nothing).

pub mod cel;
pub mod controller;
pub mod jsonpath;
pub mod schema;
pub mod strategy;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use ordinal_store::Store;
use serde_json::Value;

use crate::names::FieldError;
use crate::resources::{ALL_VERBS, Resource, Subresource};
use crate::table::Column;

pub use strategy::{CustomStrategy, ScalePaths};

/// Where CRDs are stored.
pub const CRD_PREFIX: &str = "/apiextensions.k8s.io/customresourcedefinitions/";

/// The finalizer that holds a deleted CRD until its objects are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// The custom resources one server serves, swapped whole on every change.
#[derive(Debug, Default)]
pub struct Catalog {
    current: RwLock<Arc<Snapshot>>,
}

/// The served custom resources at one moment.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Every served version of every CRD, groups sorted by name and
    /// versions by upstream's version priority.
    pub rows: Vec<&'static Resource>,
    /// Which CRD each row belongs to (the CRD's name), by index.
    crds: Vec<String>,
    /// Bumped on every change.
    pub generation: u64,
    /// The OpenAPI v3 documents of these group-versions, built on first
    /// use.
    pub(crate) openapi: OnceLock<Vec<crate::openapi::Document>>,
}

impl Catalog {
    /// The served custom resources now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Rebuilds the catalog from the CRDs in `store`; a no-op when they
    /// define the same rows as before.
    pub fn refresh(&self, store: &Store) {
        let snapshot = store.snapshot();
        let crds: Vec<Value> = snapshot
            .range(CRD_PREFIX, None)
            .filter_map(|o| serde_json::from_slice(&o.bytes).ok())
            .collect();
        let (rows, owners) = rows_of_all(&crds);
        let mut current = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let same = current.rows.len() == rows.len()
            && current
                .rows
                .iter()
                .zip(&rows)
                .all(|(a, b)| std::ptr::eq(*a, *b));
        if same {
            return;
        }
        *current = Arc::new(Snapshot {
            rows,
            crds: owners,
            generation: current.generation + 1,
            openapi: OnceLock::new(),
        });
    }
}

impl Snapshot {
    /// Finds a custom resource by group, version and plural.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
        self.rows
            .iter()
            .copied()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    /// Finds a custom resource by group and plural (its preferred version).
    pub fn by_plural(&self, group: &str, plural: &str) -> Option<&'static Resource> {
        self.rows
            .iter()
            .copied()
            .find(|r| r.group == group && r.plural == plural)
    }

    /// The groups of custom resources, in discovery order.
    pub fn groups(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for r in &self.rows {
            if !out.contains(&r.group) {
                out.push(r.group);
            }
        }
        out
    }

    /// The versions of a custom group, preferred first.
    pub fn versions(&self, group: &str) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for r in self.rows.iter().filter(|r| r.group == group) {
            if !out.contains(&r.version) {
                out.push(r.version);
            }
        }
        out.sort_by(|a, b| version_order(a, b));
        out
    }

    /// The resources of one custom group-version.
    pub fn in_group_version<'a>(
        &'a self,
        group: &'a str,
        version: &'a str,
    ) -> impl Iterator<Item = &'static Resource> + 'a {
        self.rows
            .iter()
            .copied()
            .filter(move |r| r.group == group && r.version == version)
    }

    /// The name of the CRD a row comes from.
    pub fn crd_of(&self, resource: &Resource) -> Option<&str> {
        self.rows
            .iter()
            .position(|r| std::ptr::eq(*r, resource))
            .map(|i| self.crds[i].as_str())
    }
}

/// Kubernetes' version priority: GA before beta before alpha, higher
/// numbers first, then other names alphabetically.
pub fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn rank(v: &str) -> (u8, i64, i64, String) {
        let parse = || -> Option<(u8, i64, i64)> {
            let rest = v.strip_prefix('v')?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let major: i64 = digits.parse().ok()?;
            let tail = &rest[digits.len()..];
            if tail.is_empty() {
                return Some((0, -major, 0));
            }
            for (stage, name) in [(1u8, "beta"), (2u8, "alpha")] {
                if let Some(n) = tail.strip_prefix(name) {
                    let minor: i64 = n.parse().ok()?;
                    return Some((stage, -major, -minor));
                }
            }
            None
        };
        match parse() {
            Some((stage, major, minor)) => (stage, major, minor, String::new()),
            None => (3, 0, 0, v.to_string()),
        }
    }
    rank(a).cmp(&rank(b))
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn leak_all(items: Vec<String>) -> &'static [&'static str] {
    Box::leak(
        items
            .iter()
            .map(|s| leak(s))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    )
}

/// Rows already built, by their definition's text: a CRD read again
/// yields the same `&'static` rows.
fn interned() -> &'static Mutex<HashMap<String, &'static Resource>> {
    static ROWS: OnceLock<Mutex<HashMap<String, &'static Resource>>> = OnceLock::new();
    ROWS.get_or_init(Default::default)
}

/// The rows of every CRD whose names are accepted, in discovery order,
/// with the CRD each came from.
fn rows_of_all(crds: &[Value]) -> (Vec<&'static Resource>, Vec<String>) {
    let mut ordered: Vec<&Value> = crds.iter().collect();
    ordered.sort_by_key(|crd| Names::order(crd));
    let mut names = Names::default();
    let mut rows: Vec<(&'static Resource, String)> = Vec::new();
    for crd in ordered {
        if !names.claim(crd).is_empty() {
            continue;
        }
        let owner = str_at(crd, "/metadata/name").to_string();
        for row in rows_of(crd) {
            rows.push((row, owner.clone()));
        }
    }
    rows.sort_by(|(a, _), (b, _)| {
        a.group
            .cmp(b.group)
            .then_with(|| version_order(a.version, b.version))
            .then_with(|| a.plural.cmp(b.plural))
    });
    rows.into_iter().unzip()
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The names a CRD claims in its group besides its plural (which its own
/// name makes unique): kind, list kind, singular, short names.
fn claimed_names(crd: &Value) -> Vec<String> {
    let names = crd.pointer("/spec/names").cloned().unwrap_or_default();
    let mut out = vec![
        format!("kind:{}", str_at(&names, "/kind")),
        format!("plural:{}", str_at(&names, "/plural")),
    ];
    let singular = str_at(&names, "/singular");
    if !singular.is_empty() {
        out.push(format!("plural:{singular}"));
    }
    if let Some(Value::Array(shorts)) = names.get("shortNames") {
        for s in shorts.iter().filter_map(Value::as_str) {
            out.push(format!("plural:{s}"));
        }
    }
    out
}

/// The names CRDs hold in their groups, handed out oldest CRD first, as
/// upstream's naming controller does: an older CRD keeps a name a newer
/// one asks for too.
#[derive(Debug, Default)]
pub(crate) struct Names {
    /// (group, name) pairs held.
    taken: Vec<(String, String)>,
}

impl Names {
    /// The order CRDs claim their names in: oldest first, then by name.
    pub(crate) fn order(crd: &Value) -> (String, String) {
        (
            str_at(crd, "/metadata/creationTimestamp").to_string(),
            str_at(crd, "/metadata/name").to_string(),
        )
    }

    /// The names of `crd` another CRD of its group already holds, as
    /// upstream's naming controller reports them; when there are none,
    /// its names are now held.
    pub(crate) fn claim(&mut self, crd: &Value) -> Vec<String> {
        let group = str_at(crd, "/spec/group");
        let wanted = claimed_names(crd);
        let conflicts: Vec<String> = wanted
            .iter()
            .filter(|n| self.taken.iter().any(|(g, t)| g == group && t == *n))
            .map(|n| {
                let (what, name) = n.split_once(':').unwrap_or(("", n));
                format!("{what} {name:?} is already in use")
            })
            .collect();
        if conflicts.is_empty() {
            self.taken
                .extend(wanted.into_iter().map(|n| (group.to_string(), n)));
        }
        conflicts
    }
}

/// The rows of one CRD: one per served version.
fn rows_of(crd: &Value) -> Vec<&'static Resource> {
    let terminating = crd.pointer("/metadata/deletionTimestamp").is_some();
    let Some(Value::Array(versions)) = crd.pointer("/spec/versions") else {
        return Vec::new();
    };
    let storage = versions
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .and_then(|v| v.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut out = Vec::new();
    for version in versions {
        if version.get("served").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let key = serde_json::json!({
            "group": crd.pointer("/spec/group"),
            "names": crd.pointer("/spec/names"),
            "scope": crd.pointer("/spec/scope"),
            "storage": storage,
            "version": version,
            "terminating": terminating,
        })
        .to_string();
        let mut table = interned()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(row) = table.get(&key) {
            out.push(*row);
            continue;
        }
        let Some(row) = build_row(crd, version, storage, terminating) else {
            continue;
        };
        let row: &'static Resource = Box::leak(Box::new(row));
        table.insert(key, row);
        out.push(row);
    }
    out
}

const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

/// One version's row; `None` when the definition is unusable (a CRD the
/// API server validated never is).
fn build_row(crd: &Value, version: &Value, storage: &str, terminating: bool) -> Option<Resource> {
    let group = leak(str_at(crd, "/spec/group"));
    let names = crd.pointer("/spec/names")?;
    let kind = leak(names.get("kind")?.as_str()?);
    let plural = leak(names.get("plural")?.as_str()?);
    let singular = match str_at(names, "/singular") {
        "" => leak(&kind.to_lowercase()),
        s => leak(s),
    };
    let strings = |key: &str| -> Vec<String> {
        names
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let version_name = leak(version.get("name")?.as_str()?);
    let mut errs = Vec::new();
    let schema = match version.pointer("/schema/openAPIV3Schema") {
        Some(s) => schema::parse(s, "schema", &mut errs),
        None => schema::parse(
            &serde_json::json!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true }),
            "schema",
            &mut errs,
        ),
    };
    if !errs.is_empty() {
        tracing::warn!(
            crd = str_at(crd, "/metadata/name"),
            "a stored CRD's schema does not parse; its version is not served"
        );
        return None;
    }
    let subresources = version.get("subresources");
    let status = subresources.and_then(|s| s.get("status")).is_some();
    let scale = subresources
        .and_then(|s| s.get("scale"))
        .map(|s| ScalePaths {
            spec_replicas: str_at(s, "/specReplicasPath").to_string(),
            status_replicas: str_at(s, "/statusReplicasPath").to_string(),
            label_selector: s
                .get("labelSelectorPath")
                .and_then(Value::as_str)
                .map(str::to_string),
        });
    let mut subs = Vec::new();
    if scale.is_some() {
        subs.push(Subresource {
            name: "scale",
            group: "autoscaling",
            version: "v1",
            kind: "Scale",
            verbs: STATUS_VERBS,
        });
    }
    if status {
        subs.push(Subresource {
            name: "status",
            group,
            version: version_name,
            kind,
            verbs: STATUS_VERBS,
        });
    }
    let (columns, printer_columns) = printer_columns(version);
    let mut selectable = vec![
        "metadata.name".to_string(),
        "metadata.namespace".to_string(),
    ];
    let mut selectable_paths = Vec::new();
    if let Some(Value::Array(fields)) = version.get("selectableFields") {
        for f in fields {
            let path = str_at(f, "/jsonPath");
            if let Ok(parsed) = jsonpath::Path::parse(path) {
                let label = leak(path.trim_start_matches('.'));
                selectable.push(label.to_string());
                selectable_paths.push((label, parsed));
            }
        }
    }
    let api_version = leak(&format!("{group}/{version_name}"));
    let storage_api_version = leak(&format!("{group}/{storage}"));
    let strategy = CustomStrategy {
        raw_schema: version
            .pointer("/schema/openAPIV3Schema")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({ "type": "object" })),
        api_version,
        storage_api_version,
        prefix: leak(&format!("/{group}/{plural}/")),
        schema,
        columns,
        printer_columns,
        selectable: leak_all(selectable),
        selectable_paths,
        scale,
        status,
        terminating,
    };
    Some(Resource {
        group,
        version: version_name,
        kind,
        plural,
        singular,
        namespaced: str_at(crd, "/spec/scope") != "Cluster",
        short_names: leak_all(strings("shortNames")),
        categories: leak_all(strings("categories")),
        verbs: ALL_VERBS,
        subresources: Box::leak(subs.into_boxed_slice()),
        generation: true,
        strategy: Box::leak(Box::new(strategy)),
    })
}

/// The table of a version: `NAME`, then its printer columns (or `AGE`
/// when it names none, as upstream's defaulting gives).
fn printer_columns(version: &Value) -> (&'static [Column], Vec<strategy::PrinterColumn>) {
    let mut specs: Vec<Value> = version
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if specs.is_empty() {
        specs.push(serde_json::json!({
            "name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"
        }));
    }
    let mut columns = vec![Column {
        name: "Name",
        kind: "string",
        format: "name",
        description: "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
        priority: 0,
    }];
    let mut printers = Vec::new();
    for spec in specs {
        let Ok(path) = jsonpath::Path::parse(str_at(&spec, "/jsonPath")) else {
            continue;
        };
        let column = Column {
            name: leak(str_at(&spec, "/name")),
            kind: leak(str_at(&spec, "/type")),
            format: leak(str_at(&spec, "/format")),
            description: leak(str_at(&spec, "/description")),
            priority: spec.get("priority").and_then(Value::as_i64).unwrap_or(0) as i32,
        };
        columns.push(column);
        printers.push(strategy::PrinterColumn { column, path });
    }
    (Box::leak(columns.into_boxed_slice()), printers)
}

/// The problems of a CRD's versions beyond their shape: every schema
/// structural, every rule compiling, every printer column and selectable
/// field a path.
pub fn validate_versions(crd: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(Value::Array(versions)) = crd.pointer("/spec/versions") else {
        return errs;
    };
    for (i, version) in versions.iter().enumerate() {
        let at = format!("spec.versions[{i}]");
        match version.pointer("/schema/openAPIV3Schema") {
            Some(s) => {
                schema::parse(s, &format!("{at}.schema.openAPIV3Schema"), &mut errs);
            }
            None => errs.push(FieldError::required(
                format!("{at}.schema.openAPIV3Schema"),
                "schemas are required",
            )),
        }
        if let Some(Value::Array(cols)) = version.get("additionalPrinterColumns") {
            for (j, c) in cols.iter().enumerate() {
                let p = format!("{at}.additionalPrinterColumns[{j}]");
                if str_at(c, "/name").is_empty() {
                    errs.push(FieldError::required(format!("{p}.name"), ""));
                }
                let kind = str_at(c, "/type");
                if !["integer", "number", "string", "boolean", "date"].contains(&kind) {
                    errs.push(FieldError::not_supported(
                        format!("{p}.type"),
                        kind,
                        &["boolean", "date", "integer", "number", "string"],
                    ));
                }
                if let Err(e) = jsonpath::Path::parse(str_at(c, "/jsonPath")) {
                    errs.push(FieldError::invalid(
                        format!("{p}.jsonPath"),
                        str_at(c, "/jsonPath"),
                        e,
                    ));
                }
            }
        }
        if let Some(Value::Array(fields)) = version.get("selectableFields") {
            for (j, f) in fields.iter().enumerate() {
                if let Err(e) = jsonpath::Path::parse(str_at(f, "/jsonPath")) {
                    errs.push(FieldError::invalid(
                        format!("{at}.selectableFields[{j}].jsonPath"),
                        str_at(f, "/jsonPath"),
                        e,
                    ));
                }
            }
        }
        if let Some(scale) = version.pointer("/subresources/scale") {
            for key in ["specReplicasPath", "statusReplicasPath"] {
                let path = str_at(scale, &format!("/{key}"));
                if path.is_empty() {
                    errs.push(FieldError::required(
                        format!("{at}.subresources.scale.{key}"),
                        "",
                    ));
                } else if let Err(e) = jsonpath::Path::parse(path) {
                    errs.push(FieldError::invalid(
                        format!("{at}.subresources.scale.{key}"),
                        path,
                        e,
                    ));
                }
            }
        }
    }
    errs
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Arbitrary JSON, a few levels deep.
    pub(crate) fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| json!(i)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            "[a-z]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,5}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    pub(crate) fn widget_crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": { "name": "widgets.example.com", "creationTimestamp": "2026-01-01T00:00:00Z" },
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": { "plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList", "shortNames": ["wd"] },
                "versions": [
                    { "name": "v1", "served": true, "storage": true,
                      "schema": { "openAPIV3Schema": { "type": "object", "properties": {
                          "spec": { "type": "object", "properties": { "size": { "type": "integer" } } },
                          "status": { "type": "object", "properties": { "ready": { "type": "integer" } } } } } },
                      "subresources": { "status": {}, "scale": { "specReplicasPath": ".spec.size", "statusReplicasPath": ".status.ready" } },
                      "additionalPrinterColumns": [{ "name": "Size", "type": "integer", "jsonPath": ".spec.size" }] },
                    { "name": "v1beta1", "served": true, "storage": false,
                      "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } } }
                ]
            }
        })
    }

    #[test]
    fn a_crd_becomes_one_row_per_served_version() {
        let (rows, owners) = rows_of_all(&[widget_crd()]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].version, "v1");
        assert_eq!(rows[1].version, "v1beta1");
        assert_eq!(owners, ["widgets.example.com", "widgets.example.com"]);
        assert_eq!(rows[0].short_names, ["wd"]);
        assert!(rows[0].has_status());
        assert!(rows[0].subresource("scale").is_some());
        assert!(!rows[1].has_status());
        assert_eq!(
            rows[0].key(Some("default"), "a"),
            "/example.com/widgets/default/a"
        );
        // The same definition read again is the same row.
        let (again, _) = rows_of_all(&[widget_crd()]);
        assert!(std::ptr::eq(rows[0], again[0]));
    }

    #[test]
    fn a_newer_crd_claiming_a_taken_kind_is_not_served() {
        let mut other = widget_crd();
        other["metadata"]["name"] = json!("gadgets.example.com");
        other["metadata"]["creationTimestamp"] = json!("2026-02-01T00:00:00Z");
        other["spec"]["names"]["plural"] = json!("gadgets");
        other["spec"]["names"]["singular"] = json!("gadget");
        other["spec"]["names"]["shortNames"] = json!([]);
        let (rows, _) = rows_of_all(&[other.clone(), widget_crd()]);
        assert!(rows.iter().all(|r| r.plural == "widgets"));
        let mut names = Names::default();
        assert!(names.claim(&widget_crd()).is_empty());
        assert_eq!(names.claim(&other), ["kind \"Widget\" is already in use"]);
    }

    #[test]
    fn versions_sort_as_kubernetes_does() {
        let mut v = vec!["v1alpha1", "v2", "foo", "v1beta2", "v1", "v1beta1", "v10"];
        v.sort_by(|a, b| version_order(a, b));
        assert_eq!(
            v,
            ["v10", "v2", "v1", "v1beta2", "v1beta1", "v1alpha1", "foo"]
        );
    }
}
