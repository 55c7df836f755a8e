//! OpenAPI: the v3 index at `GET /openapi/v3` and one document per served
//! group-version at `GET /openapi/v3/api/v1`, `GET /openapi/v3/apis/apps/v1`;
//! the v2 document at `GET /openapi/v2`.
//!
//! # What kubectl reads, and why the documents look the way they do
//!
//! `kubectl apply`, `create`, `replace` and `edit` validate what they send.
//! In kubectl 1.33 the validator (`k8s.io/kubectl/pkg/cmd/util`,
//! `factoryImpl.Validator`) wraps the client-side schema check in a
//! `paramVerifyingSchema` (`k8s.io/kubectl/pkg/validation/schema.go`): for
//! each object it asks a `resource.Verifier` whether the server supports the
//! `fieldValidation` query parameter for the object's GVK. If yes, kubectl
//! skips client-side validation and sends `?fieldValidation=Strict`; if the
//! answer is "unsupported", it validates client-side against
//! `/openapi/v2` (protobuf).
//!
//! The verifier is `queryParamVerifierV3`
//! (`k8s.io/cli-runtime/pkg/resource/query_param_verifier_v3.go`), with the
//! OpenAPI v2 verifier as fallback for any error other than "unsupported".
//! It fetches `/openapi/v3`, looks up `api/<v>` or `apis/<g>/<v>`
//! (`client-go/openapi3/root.go`, `GroupVersionToAPIPath`), downloads the
//! `serverRelativeURL` as `application/json`, and then, in
//! `supportsQueryParamV3`, walks `paths` (a Go map: in no fixed order) and
//! takes the **first** `patch` operation whose `x-kubernetes-group-version-kind`
//! extension is an object equal to the GVK. It answers "supported" only if
//! that operation's own `parameters` (not the path-level ones) contain one
//! named `fieldValidation`. Since the order is random and `/status` patches
//! carry the parent's GVK, every PATCH operation here lists
//! `fieldValidation` (as upstream does), and so do POST and PUT.
//!
//! `kubectl apply` also reads these documents to compute strategic merge
//! patches (`k8s.io/kubectl/pkg/cmd/apply/patcher.go`): it looks in
//! `components.schemas` for the schema whose `x-kubernetes-group-version-kind`
//! (an array) names the kind and builds the patch from its
//! `x-kubernetes-patch-merge-key` / `x-kubernetes-patch-strategy`
//! extensions; `kubectl explain` finds a kind's schema the same way. The
//! schemas ([`schemas`]) therefore carry every patch extension upstream's
//! markers declare, from the same tables the server merges with.
//!
//! kubectl 1.27 and 1.28 do the same with the single OpenAPI v2 document
//! ([`v2`]), which they also validate manifests against when the server
//! does not validate fields itself.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::{Map, Value, json};

mod proto;
mod schemas;
pub(crate) mod v2;

use crate::custom::Snapshot;
use crate::resources::{self, RESOURCES, Resource, Subresource};

/// Where a v3 document's references point.
const V3_REF_PREFIX: &str = "#/components/schemas/";

/// The Kubernetes version named in each document's `info`.
const INFO_VERSION: &str = "v1.33.0";

/// One built document.
#[derive(Debug)]
pub(crate) struct Document {
    /// `api/v1`, `apis/apps/v1`.
    path: String,
    bytes: Bytes,
    hash: String,
}

fn documents() -> &'static [Document] {
    static DOCS: OnceLock<Vec<Document>> = OnceLock::new();
    DOCS.get_or_init(|| {
        group_versions()
            .into_iter()
            .map(|(group, version)| {
                let value = build_document(group, version);
                let bytes = serde_json::to_vec(&value).expect("a JSON value serializes");
                let hash = content_hash(&bytes);
                Document {
                    path: gv_path(group, version),
                    bytes: Bytes::from(bytes),
                    hash,
                }
            })
            .collect()
    })
}

/// Every served group-version, core first, then [`resources::GROUPS`] order.
fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    for group in std::iter::once("").chain(resources::GROUPS.iter().copied()) {
        for version in resources::versions(group) {
            out.push((group, version));
        }
    }
    out
}

/// `api/v1` for the core group, `apis/<group>/<version>` otherwise: the keys
/// of the index, as client-go's `GroupVersionToAPIPath` builds them.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `GET /openapi/v3`: `{"paths": {"api/v1": {"serverRelativeURL":
/// "/openapi/v3/api/v1?hash=<HASH>"}, …}}`, one entry per served
/// group-version.
pub fn v3_index(custom: &Snapshot) -> Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    let mut doc = DOC
        .get_or_init(|| {
            let mut paths = Map::new();
            for d in documents() {
                paths.insert(
                    d.path.clone(),
                    json!({ "serverRelativeURL": format!("/openapi/v3/{}?hash={}", d.path, d.hash) }),
                );
            }
            json!({ "paths": paths })
        })
        .clone();
    if let Some(paths) = doc["paths"].as_object_mut() {
        for d in custom_documents(custom) {
            paths.insert(
                d.path.clone(),
                json!({ "serverRelativeURL": format!("/openapi/v3/{}?hash={}", d.path, d.hash) }),
            );
        }
    }
    doc
}

/// The documents of the custom resources' group-versions, built once per
/// catalog snapshot.
fn custom_documents(custom: &Snapshot) -> &[Document] {
    custom.openapi.get_or_init(|| {
        let mut out = Vec::new();
        for group in custom.groups() {
            for version in custom.versions(group) {
                let value = build_custom_document(custom, group, version);
                let bytes = serde_json::to_vec(&value).expect("a JSON value serializes");
                let hash = content_hash(&bytes);
                out.push(Document {
                    path: gv_path(group, version),
                    bytes: Bytes::from(bytes),
                    hash,
                });
            }
        }
        out
    })
}

/// One custom group-version's document: the paths of its resources, the
/// meta schemas they reach, and each kind's schema from its CRD (with
/// `apiVersion`, `kind` and `metadata` as upstream's builder adds them).
fn build_custom_document(custom: &Snapshot, group: &'static str, version: &'static str) -> Value {
    let mut b = Builder::new(group, version);
    let rows: Vec<&'static Resource> = custom.in_group_version(group, version).collect();
    for r in &rows {
        b.add_resource(r);
    }
    b.refs
        .insert("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta".to_string());
    b.refs
        .insert("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta".to_string());
    let mut doc = b.finish();
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return doc;
    };
    for r in rows {
        let Some(custom) = r.strategy.custom() else {
            continue;
        };
        let gvk = json!([{ "group": r.group, "version": r.version, "kind": r.kind }]);
        let mut schema = custom.raw_schema.clone();
        if let Some(map) = schema.as_object_mut() {
            let props = map.entry("properties").or_insert_with(|| json!({}));
            if let Some(props) = props.as_object_mut() {
                props.insert("apiVersion".into(), json!({ "type": "string", "description": "APIVersion defines the versioned schema of this representation of an object." }));
                props.insert("kind".into(), json!({ "type": "string", "description": "Kind is a string value representing the REST resource this object represents." }));
                props.insert("metadata".into(), json!({ "allOf": [{ "$ref": format!("{V3_REF_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta") }], "description": "Standard object's metadata." }));
            }
            map.insert("x-kubernetes-group-version-kind".into(), gvk.clone());
        }
        schemas.insert(schema_name(r.group, r.version, r.kind), schema);
        let list_gvk = json!([{ "group": r.group, "version": r.version, "kind": r.list_kind() }]);
        schemas.insert(
            schema_name(r.group, r.version, &r.list_kind()),
            json!({
                "type": "object",
                "required": ["items"],
                "properties": {
                    "apiVersion": { "type": "string" },
                    "kind": { "type": "string" },
                    "items": { "type": "array", "items": { "$ref": format!("{V3_REF_PREFIX}{}", schema_name(r.group, r.version, r.kind)) } },
                    "metadata": { "allOf": [{ "$ref": format!("{V3_REF_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta") }] },
                },
                "x-kubernetes-group-version-kind": list_gvk,
            }),
        );
    }
    doc
}

/// `GET /openapi/v3/<gv_path>`: the serialized document and its hash, or
/// `None` for a group-version that is not served.
///
/// `gv_path` is `api/v1` or `apis/apps/v1`; a leading `/openapi/v3/` or `/`
/// is tolerated. Serve the bytes as [`CONTENT_TYPE`] with `ETag: "<hash>"`.
/// Upstream (kube-openapi `handler3`) also answers a request whose `hash`
/// query parameter differs from the current hash with a 301 to the current
/// URL, and one whose hash matches with `Cache-Control: public, immutable`
/// and an `Expires` a year ahead.
pub fn v3_document(gv_path: &str, custom: &Snapshot) -> Option<(Bytes, String)> {
    let path = gv_path
        .trim_start_matches("/openapi/v3")
        .trim_start_matches('/')
        .trim_end_matches('/');
    documents()
        .iter()
        .chain(custom_documents(custom))
        .find(|d| d.path == path)
        .map(|d| (d.bytes.clone(), d.hash.clone()))
}

/// A deterministic hash of a document: 128-bit FNV-1a, as 32 uppercase hex
/// digits. Clients treat it as opaque; it only has to change when the
/// document changes.
fn content_hash(bytes: &[u8]) -> String {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let mut h = OFFSET;
    for b in bytes {
        h ^= u128::from(*b);
        h = h.wrapping_mul(PRIME);
    }
    format!("{h:032X}")
}

/// The OpenAPI name of a kind's schema, as upstream names it:
/// `io.k8s.api.core.v1.Pod`, `io.k8s.api.apps.v1.StatefulSet`,
/// `io.k8s.apimachinery.pkg.apis.meta.v1.Status`.
pub fn schema_name(group: &str, version: &str, kind: &str) -> String {
    if group.is_empty() && matches!(kind, "Status" | "DeleteOptions" | "Patch" | "ListMeta") {
        return format!("io.k8s.apimachinery.pkg.apis.meta.v1.{kind}");
    }
    if group == "apiextensions.k8s.io" {
        return format!("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{version}.{kind}");
    }
    if group.contains('.') && !group.ends_with(".k8s.io") {
        // A custom resource's: the group's domain reversed, as upstream's
        // CRD OpenAPI builder names it (`com.example.v1.Widget`).
        let reversed: Vec<&str> = group.split('.').rev().collect();
        return format!("{}.{version}.{kind}", reversed.join("."));
    }
    let package = if group.is_empty() {
        "core"
    } else {
        group.split('.').next().unwrap_or(group)
    };
    format!("io.k8s.api.{package}.{version}.{kind}")
}

/// Builds the paths of one group-version and collects the schemas they
/// reference.
struct Builder {
    group: &'static str,
    version: &'static str,
    paths: Map<String, Value>,
    refs: BTreeSet<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    fn key(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
        }
    }
}

fn query(name: &str, ty: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "query",
        "description": description,
        "schema": { "type": ty, "uniqueItems": true },
    })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "path",
        "description": description,
        "required": true,
        "schema": { "type": "string", "uniqueItems": true },
    })
}

fn pretty() -> Value {
    query(
        "pretty",
        "string",
        "If 'true', the output is pretty printed.",
    )
}

fn dry_run() -> Value {
    query(
        "dryRun",
        "string",
        "When present, modifications are not persisted. Valid value: All.",
    )
}

fn field_manager() -> Value {
    query(
        "fieldManager",
        "string",
        "The name of the actor making these changes; required for apply patches.",
    )
}

fn field_validation() -> Value {
    query(
        "fieldValidation",
        "string",
        "How to treat unknown or duplicate fields in the request body: Ignore, Warn (the default) \
         or Strict (reject the request with a BadRequest listing every such field).",
    )
}

/// The parameters of a write (POST, PUT).
fn write_params() -> Vec<Value> {
    vec![dry_run(), field_manager(), field_validation()]
}

/// The parameters of a PATCH.
fn patch_params() -> Vec<Value> {
    let mut p = write_params();
    p.push(query(
        "force",
        "boolean",
        "Re-acquire fields owned by other managers; apply patches only.",
    ));
    p
}

fn list_params() -> Vec<Value> {
    vec![
        query(
            "allowWatchBookmarks",
            "boolean",
            "Ask for BOOKMARK watch events.",
        ),
        query(
            "continue",
            "string",
            "The continue token of a previous page.",
        ),
        query(
            "fieldSelector",
            "string",
            "Restrict the objects returned by their fields.",
        ),
        query(
            "labelSelector",
            "string",
            "Restrict the objects returned by their labels.",
        ),
        query(
            "limit",
            "integer",
            "The maximum number of objects in one page.",
        ),
        query(
            "resourceVersion",
            "string",
            "The resource version the list or watch starts from.",
        ),
        query(
            "resourceVersionMatch",
            "string",
            "How resourceVersion applies to a list.",
        ),
        query(
            "sendInitialEvents",
            "boolean",
            "Start a watch with the current objects, ended by a bookmark.",
        ),
        query(
            "timeoutSeconds",
            "integer",
            "The time limit of the list or watch.",
        ),
        query("watch", "boolean", "Watch for changes instead of listing."),
    ]
}

fn delete_params() -> Vec<Value> {
    vec![
        dry_run(),
        query(
            "gracePeriodSeconds",
            "integer",
            "The seconds before the object is deleted.",
        ),
        query(
            "orphanDependents",
            "boolean",
            "Deprecated: use propagationPolicy.",
        ),
        query(
            "propagationPolicy",
            "string",
            "Garbage collection of dependents: Orphan, Background or Foreground.",
        ),
    ]
}

fn log_params() -> Vec<Value> {
    vec![
        query("container", "string", "The container to read logs of."),
        query("follow", "boolean", "Stream the log as it grows."),
        query(
            "limitBytes",
            "integer",
            "The maximum number of bytes to return.",
        ),
        query(
            "previous",
            "boolean",
            "The log of the previous, terminated container.",
        ),
        query(
            "sinceSeconds",
            "integer",
            "Only lines newer than this many seconds.",
        ),
        query(
            "sinceTime",
            "string",
            "Only lines after this RFC 3339 time.",
        ),
        query("tailLines", "integer", "Only this many lines from the end."),
        query(
            "timestamps",
            "boolean",
            "Prefix every line with its timestamp.",
        ),
    ]
}

fn exec_params() -> Vec<Value> {
    vec![
        query(
            "command",
            "string",
            "The command to run, one argument a parameter.",
        ),
        query(
            "container",
            "string",
            "The container to run the command in.",
        ),
        query("stderr", "boolean", "Redirect the standard error stream."),
        query("stdin", "boolean", "Redirect the standard input stream."),
        query("stdout", "boolean", "Redirect the standard output stream."),
        query("tty", "boolean", "Allocate a terminal."),
    ]
}

/// `Core`, `Apps`, `Storage`, `Coordination`: the group as upstream's
/// operation ids spell it.
fn group_camel(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    group
        .trim_end_matches(".k8s.io")
        .split(['.', '-'])
        .map(capitalize)
        .collect()
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl Builder {
    fn new(group: &'static str, version: &'static str) -> Builder {
        Builder {
            group,
            version,
            paths: Map::new(),
            refs: BTreeSet::new(),
        }
    }

    fn base(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    fn tag(&self) -> String {
        let group = if self.group.is_empty() {
            "core".to_string()
        } else {
            self.group.trim_end_matches(".k8s.io").replace('.', "_")
        };
        format!("{group}_{}", self.version)
    }

    fn schema_ref(&mut self, name: String) -> Value {
        let out = json!({ "$ref": format!("{V3_REF_PREFIX}{name}") });
        self.refs.insert(name);
        out
    }

    fn kind_ref(&mut self, group: &str, version: &str, kind: &str) -> Value {
        self.schema_ref(schema_name(group, version, kind))
    }

    fn json_content(schema: &Value) -> Value {
        json!({ "application/json": { "schema": schema } })
    }

    /// Responses with the same body for each status code given.
    fn responses(codes: &[(&str, &str)], content: &Value) -> Value {
        let mut out = Map::new();
        for (code, description) in codes {
            out.insert(
                (*code).into(),
                json!({ "description": description, "content": content }),
            );
        }
        out.insert("401".into(), json!({ "description": "Unauthorized" }));
        Value::Object(out)
    }

    fn patch_body(&mut self) -> Value {
        let patch = self.schema_ref(schema_name("", "v1", "Patch"));
        let mut content = Map::new();
        for ty in [
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
        ] {
            content.insert(ty.into(), json!({ "schema": patch }));
        }
        json!({ "content": content })
    }

    /// Adds one operation to a path, creating the path with its path-level
    /// parameters if needed.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        path: &str,
        path_params: &[Value],
        method: Method,
        action: &str,
        operation_id: String,
        description: String,
        gvk: (&str, &str, &str),
        parameters: Vec<Value>,
        request_body: Option<Value>,
        responses: Value,
    ) {
        let mut op = Map::new();
        op.insert("description".into(), json!(description));
        op.insert("operationId".into(), json!(operation_id));
        if !parameters.is_empty() {
            op.insert("parameters".into(), json!(parameters));
        }
        if let Some(body) = request_body {
            op.insert("requestBody".into(), body);
        }
        op.insert("responses".into(), responses);
        op.insert("tags".into(), json!([self.tag()]));
        op.insert("x-kubernetes-action".into(), json!(action));
        op.insert(
            "x-kubernetes-group-version-kind".into(),
            json!({ "group": gvk.0, "version": gvk.1, "kind": gvk.2 }),
        );
        let entry = self
            .paths
            .entry(path.to_string())
            .or_insert_with(|| json!({ "parameters": path_params }));
        entry[method.key()] = Value::Object(op);
    }

    fn add_resource(&mut self, r: &Resource) {
        let kind_content = {
            let s = self.kind_ref(r.group, r.version, r.kind);
            Self::json_content(&s)
        };
        let status_content = {
            let s = self.schema_ref(schema_name("", "v1", "Status"));
            Self::json_content(&s)
        };
        let at = self.locations(r);
        if r.verbs.contains(&"list") {
            self.add_list(r, &at);
        }
        self.add_collection_writes(r, &at, &kind_content, &status_content);
        self.add_item_operations(r, &at, &kind_content, &status_content);
        for s in r.subresources {
            self.add_subresource(r, s, &at.item, &at.item_params, &at.gv, at.scope);
        }
    }

    /// Where a resource's operations live and the names they share.
    fn locations(&self, r: &Resource) -> Locations {
        let base = self.base();
        let namespace = path_param(
            "namespace",
            "object name and auth scope, such as for teams and projects",
        );
        let name = path_param("name", &format!("name of the {}", r.kind));
        let (collection, collection_params) = if r.namespaced {
            (
                format!("{base}/namespaces/{{namespace}}/{}", r.plural),
                vec![namespace.clone(), pretty()],
            )
        } else {
            (format!("{base}/{}", r.plural), vec![pretty()])
        };
        let item = format!("{collection}/{{name}}");
        let item_params = if r.namespaced {
            vec![name, namespace, pretty()]
        } else {
            vec![name, pretty()]
        };
        Locations {
            base,
            gv: format!("{}{}", group_camel(r.group), capitalize(r.version)),
            scope: if r.namespaced { "Namespaced" } else { "" },
            collection,
            collection_params,
            item,
            item_params,
        }
    }

    /// `list` (and watch) of the collection, and across namespaces.
    fn add_list(&mut self, r: &Resource, at: &Locations) {
        let Locations {
            base, gv, scope, ..
        } = at;
        let gvk = (r.group, r.version, r.kind);
        let list = {
            let s = self.kind_ref(r.group, r.version, &r.list_kind());
            json!({
                "application/json": { "schema": s },
                "application/json;stream=watch": { "schema": s },
            })
        };
        let responses = Self::responses(&[("200", "OK")], &list);
        self.add(
            &at.collection,
            &at.collection_params,
            Method::Get,
            "list",
            format!("list{gv}{scope}{}", r.kind),
            format!("list or watch objects of kind {}", r.kind),
            gvk,
            list_params(),
            None,
            responses.clone(),
        );
        if r.namespaced {
            self.add(
                &format!("{base}/{}", r.plural),
                &[pretty()],
                Method::Get,
                "list",
                format!("list{gv}{}ForAllNamespaces", r.kind),
                format!("list or watch objects of kind {}", r.kind),
                gvk,
                list_params(),
                None,
                responses,
            );
        }
    }

    /// `create` and `deletecollection` on the collection.
    fn add_collection_writes(
        &mut self,
        r: &Resource,
        at: &Locations,
        kind_content: &Value,
        status_content: &Value,
    ) {
        let Locations { gv, scope, .. } = at;
        let gvk = (r.group, r.version, r.kind);
        let has = |verb: &str| r.verbs.contains(&verb);
        if has("create") {
            let body = request_body(self.kind_ref(r.group, r.version, r.kind));
            self.add(
                &at.collection,
                &at.collection_params,
                Method::Post,
                "post",
                format!("create{gv}{scope}{}", r.kind),
                format!("create a {}", r.kind),
                gvk,
                write_params(),
                Some(body),
                Self::responses(
                    &[("200", "OK"), ("201", "Created"), ("202", "Accepted")],
                    kind_content,
                ),
            );
        }
        if has("deletecollection") {
            let mut params = delete_params();
            params.extend(list_params().into_iter().filter(|p| p["name"] != "watch"));
            let body = request_body(self.schema_ref(schema_name("", "v1", "DeleteOptions")));
            self.add(
                &at.collection,
                &at.collection_params,
                Method::Delete,
                "deletecollection",
                format!("deleteCollection{gv}{scope}{}", r.kind),
                format!("delete collection of {}", r.kind),
                gvk,
                params,
                Some(body),
                Self::responses(&[("200", "OK")], status_content),
            );
        }
    }

    /// `get`, `update`, `patch` and `delete` of one object.
    fn add_item_operations(
        &mut self,
        r: &Resource,
        at: &Locations,
        kind_content: &Value,
        status_content: &Value,
    ) {
        let Locations { gv, scope, .. } = at;
        let gvk = (r.group, r.version, r.kind);
        let has = |verb: &str| r.verbs.contains(&verb);
        if has("get") {
            self.add(
                &at.item,
                &at.item_params,
                Method::Get,
                "get",
                format!("read{gv}{scope}{}", r.kind),
                format!("read the specified {}", r.kind),
                gvk,
                Vec::new(),
                None,
                Self::responses(&[("200", "OK")], kind_content),
            );
        }
        if has("update") {
            let body = request_body(self.kind_ref(r.group, r.version, r.kind));
            self.add(
                &at.item,
                &at.item_params,
                Method::Put,
                "put",
                format!("replace{gv}{scope}{}", r.kind),
                format!("replace the specified {}", r.kind),
                gvk,
                write_params(),
                Some(body),
                Self::responses(&[("200", "OK"), ("201", "Created")], kind_content),
            );
        }
        if has("patch") {
            let body = self.patch_body();
            self.add(
                &at.item,
                &at.item_params,
                Method::Patch,
                "patch",
                format!("patch{gv}{scope}{}", r.kind),
                format!("partially update the specified {}", r.kind),
                gvk,
                patch_params(),
                Some(body),
                Self::responses(&[("200", "OK"), ("201", "Created")], kind_content),
            );
        }
        if has("delete") {
            let body = request_body(self.schema_ref(schema_name("", "v1", "DeleteOptions")));
            self.add(
                &at.item,
                &at.item_params,
                Method::Delete,
                "delete",
                format!("delete{gv}{scope}{}", r.kind),
                format!("delete a {}", r.kind),
                gvk,
                delete_params(),
                Some(body),
                Self::responses(&[("200", "OK"), ("202", "Accepted")], status_content),
            );
        }
    }

    fn add_subresource(
        &mut self,
        r: &Resource,
        s: &Subresource,
        item: &str,
        item_params: &[Value],
        gv: &str,
        scope: &str,
    ) {
        let path = format!("{item}/{}", s.name);
        let gvk = (s.group, s.version, s.kind);
        let suffix = capitalize(s.name);
        let subject = format!("{} of the specified {}", s.name, r.kind);
        let kind_content = {
            let schema = self.kind_ref(s.group, s.version, s.kind);
            Self::json_content(&schema)
        };
        let text = |ty: &str| json!({ ty: { "schema": { "type": "string" } } });
        for verb in s.verbs {
            let (method, action, prefix, params, body, responses) = match (s.name, *verb) {
                ("log", "get") => (
                    Method::Get,
                    "get",
                    "read".to_string(),
                    log_params(),
                    None,
                    Self::responses(&[("200", "OK")], &text("text/plain")),
                ),
                ("exec" | "attach" | "portforward", "get" | "create") => {
                    let (method, p) = if *verb == "get" {
                        (Method::Get, "Get")
                    } else {
                        (Method::Post, "Post")
                    };
                    let params = match s.name {
                        "exec" => exec_params(),
                        "attach" => exec_params()
                            .into_iter()
                            .filter(|p| p["name"] != "command")
                            .collect(),
                        _ => vec![query("ports", "integer", "The pod ports to forward to.")],
                    };
                    (
                        method,
                        "connect",
                        format!("connect{p}"),
                        params,
                        None,
                        Self::responses(&[("200", "OK")], &text("*/*")),
                    )
                }
                (_, "get") => (
                    Method::Get,
                    "get",
                    "read".to_string(),
                    Vec::new(),
                    None,
                    Self::responses(&[("200", "OK")], &kind_content),
                ),
                (_, "create") => {
                    let schema = self.kind_ref(s.group, s.version, s.kind);
                    (
                        Method::Post,
                        "post",
                        "create".to_string(),
                        write_params(),
                        Some(request_body(schema)),
                        Self::responses(
                            &[("200", "OK"), ("201", "Created"), ("202", "Accepted")],
                            &kind_content,
                        ),
                    )
                }
                (_, "update") => {
                    let schema = self.kind_ref(s.group, s.version, s.kind);
                    (
                        Method::Put,
                        "put",
                        "replace".to_string(),
                        write_params(),
                        Some(request_body(schema)),
                        Self::responses(&[("200", "OK"), ("201", "Created")], &kind_content),
                    )
                }
                (_, "patch") => (
                    Method::Patch,
                    "patch",
                    "patch".to_string(),
                    patch_params(),
                    Some(self.patch_body()),
                    Self::responses(&[("200", "OK"), ("201", "Created")], &kind_content),
                ),
                _ => continue,
            };
            self.add(
                &path,
                item_params,
                method,
                action,
                format!("{prefix}{gv}{scope}{}{suffix}", r.kind),
                format!("{} {subject}", method.key()),
                gvk,
                params,
                body,
                responses,
            );
        }
    }

    /// The v3 document: these paths and the schemas they reach.
    fn finish(self) -> Value {
        let schemas: Map<String, Value> = schemas::closure(self.refs)
            .into_iter()
            .filter_map(|name| {
                let schema = schemas::definitions().get(&name)?;
                Some((name, to_v3(schema)))
            })
            .collect();
        json!({
            "openapi": "3.0.0",
            "info": { "title": "Kubernetes", "version": INFO_VERSION },
            "paths": self.paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": { "BearerToken": bearer_token() },
            },
            "security": [{ "BearerToken": [] }],
        })
    }
}

fn bearer_token() -> Value {
    json!({
        "type": "apiKey",
        "name": "authorization",
        "in": "header",
        "description": "Bearer Token authentication",
    })
}

/// A schema of the shared set in OpenAPI 3.0's spelling: references point
/// into `#/components/schemas/`, and a reference with siblings (a field's
/// own description) is wrapped in `allOf`, since 3.0 ignores the siblings
/// of a `$ref`.
fn to_v3(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            let mut reference = None;
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(r)) => {
                        let name = r.strip_prefix(schemas::REF_PREFIX).unwrap_or(r);
                        reference = Some(json!({ "$ref": format!("{V3_REF_PREFIX}{name}") }));
                    }
                    _ => {
                        out.insert(key.clone(), to_v3(value));
                    }
                }
            }
            match reference {
                Some(r) if out.is_empty() => r,
                Some(r) => {
                    out.insert("allOf".into(), json!([r]));
                    Value::Object(out)
                }
                None => Value::Object(out),
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(to_v3).collect()),
        other => other.clone(),
    }
}

/// The paths of one group-version, with the schemas they name.
fn build_paths(group: &'static str, version: &'static str) -> Builder {
    let mut b = Builder::new(group, version);
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        b.add_resource(r);
    }
    b
}

fn build_document(group: &'static str, version: &'static str) -> Value {
    build_paths(group, version).finish()
}

/// A `requestBody` of any media type with this schema.
fn request_body(schema: Value) -> Value {
    json!({ "content": { "*/*": { "schema": schema } } })
}

/// Where one resource's operations live, and the names their operation ids
/// share.
struct Locations {
    base: String,
    /// `CoreV1`, `AppsV1`.
    gv: String,
    /// `Namespaced` for namespaced resources.
    scope: &'static str,
    collection: String,
    collection_params: Vec<Value>,
    item: String,
    item_params: Vec<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(path: &str) -> Value {
        let (bytes, _) =
            v3_document(path, &Snapshot::default()).unwrap_or_else(|| panic!("{path} not served"));
        serde_json::from_slice(&bytes).unwrap()
    }

    /// `(path, method, operation)` of every operation in a document.
    fn operations(d: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in d["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method != "parameters" {
                    out.push((path.clone(), method.clone(), op.clone()));
                }
            }
        }
        out
    }

    fn has_param(op: &Value, name: &str) -> bool {
        op["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == name))
    }

    /// What kubectl's `supportsQueryParamV3` computes, with every possible
    /// iteration order: true only if every PATCH tagged with the GVK lists
    /// the parameter in its own parameters.
    fn supports_field_validation(d: &Value, gvk: (&str, &str, &str)) -> bool {
        let want = json!({ "group": gvk.0, "version": gvk.1, "kind": gvk.2 });
        let patches: Vec<Value> = operations(d)
            .into_iter()
            .filter(|(_, m, op)| m == "patch" && op["x-kubernetes-group-version-kind"] == want)
            .map(|(_, _, op)| op)
            .collect();
        !patches.is_empty() && patches.iter().all(|op| has_param(op, "fieldValidation"))
    }

    #[test]
    fn index_lists_every_group_version() {
        let index = v3_index(&Snapshot::default());
        let paths = index["paths"].as_object().unwrap();
        let mut want: Vec<String> = RESOURCES
            .iter()
            .map(|r| gv_path(r.group, r.version))
            .collect();
        want.sort();
        want.dedup();
        let mut got: Vec<String> = paths.keys().cloned().collect();
        got.sort();
        assert_eq!(got, want);
        assert!(paths.contains_key("api/v1"));
        assert!(paths.contains_key("apis/apps/v1"));
        for (path, entry) in paths {
            let url = entry["serverRelativeURL"].as_str().unwrap();
            let (_, hash) = v3_document(path, &Snapshot::default()).unwrap();
            assert_eq!(url, format!("/openapi/v3/{path}?hash={hash}"));
            assert_eq!(hash.len(), 32);
        }
    }

    #[test]
    fn documents_are_found_by_any_spelling_and_stable() {
        let (a, ha) = v3_document("apis/apps/v1", &Snapshot::default()).unwrap();
        let (b, hb) = v3_document("/openapi/v3/apis/apps/v1", &Snapshot::default()).unwrap();
        assert_eq!(a, b);
        assert_eq!(ha, hb);
        assert_eq!(ha, content_hash(&a));
        let (_, hc) = v3_document("/api/v1", &Snapshot::default()).unwrap();
        assert_ne!(ha, hc);
        assert!(
            v3_document("apis/flowcontrol.apiserver.k8s.io/v1", &Snapshot::default()).is_none()
        );
        assert!(v3_document("apis/apps", &Snapshot::default()).is_none());
        assert!(v3_document("", &Snapshot::default()).is_none());
    }

    #[test]
    fn every_kind_supports_field_validation_as_kubectl_checks() {
        // kubectl asks only about kinds it patches; the create-only reviews
        // have no PATCH, as upstream.
        for r in RESOURCES.iter().filter(|r| r.verbs.contains(&"patch")) {
            let d = doc(&gv_path(r.group, r.version));
            assert_eq!(d["openapi"], "3.0.0");
            assert!(
                supports_field_validation(&d, (r.group, r.version, r.kind)),
                "{} {}",
                r.api_version(),
                r.kind
            );
        }
    }

    #[test]
    fn every_patch_post_and_put_lists_field_validation_and_a_gvk() {
        for (gv, _) in v3_index(&Snapshot::default())["paths"].as_object().unwrap() {
            let d = doc(gv);
            for (path, method, op) in operations(&d) {
                let gvk = &op["x-kubernetes-group-version-kind"];
                assert!(
                    gvk["kind"].as_str().is_some_and(|k| !k.is_empty()),
                    "{path}"
                );
                assert!(
                    gvk["version"].is_string() && gvk["group"].is_string(),
                    "{path}"
                );
                assert!(op["x-kubernetes-action"].is_string(), "{path}");
                let writes = match method.as_str() {
                    "patch" | "put" => true,
                    // exec's POST is a connect, not a write.
                    "post" => op["x-kubernetes-action"] == "post",
                    _ => false,
                };
                if writes {
                    assert!(has_param(&op, "fieldValidation"), "{method} {path}");
                }
                if method == "patch" {
                    let content = &op["requestBody"]["content"];
                    assert!(
                        content
                            .get("application/strategic-merge-patch+json")
                            .is_some()
                    );
                    assert!(content.get("application/apply-patch+yaml").is_some());
                }
            }
        }
    }

    #[test]
    fn paths_follow_verbs_and_scope() {
        let core = doc("api/v1");
        let paths = core["paths"].as_object().unwrap();
        let pods = &paths["/api/v1/namespaces/{namespace}/pods/{name}"];
        for m in ["get", "put", "patch", "delete"] {
            assert!(pods.get(m).is_some(), "pods {m}");
        }
        assert_eq!(pods["patch"]["x-kubernetes-action"], "patch");
        assert_eq!(
            pods["patch"]["x-kubernetes-group-version-kind"],
            json!({ "group": "", "version": "v1", "kind": "Pod" })
        );
        let coll = &paths["/api/v1/namespaces/{namespace}/pods"];
        assert_eq!(coll["get"]["x-kubernetes-action"], "list");
        assert_eq!(coll["post"]["x-kubernetes-action"], "post");
        assert_eq!(coll["delete"]["x-kubernetes-action"], "deletecollection");
        assert!(paths["/api/v1/pods"].get("get").is_some());
        // Cluster-scoped resources have no namespace segment.
        assert!(paths.contains_key("/api/v1/nodes/{name}"));
        assert!(
            !paths
                .keys()
                .any(|p| p.contains("namespaces/{namespace}/nodes"))
        );
        // Namespaces have no deletecollection.
        assert!(paths["/api/v1/namespaces"].get("delete").is_none());
        assert!(
            paths["/api/v1/namespaces/{name}/finalize"]
                .get("put")
                .is_some()
        );
        // Subresources.
        let eviction = &paths["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]["post"];
        assert_eq!(
            eviction["x-kubernetes-group-version-kind"],
            json!({ "group": "policy", "version": "v1", "kind": "Eviction" })
        );
        let log = &paths["/api/v1/namespaces/{namespace}/pods/{name}/log"]["get"];
        assert!(has_param(log, "follow") && has_param(log, "tailLines"));
        let exec = &paths["/api/v1/namespaces/{namespace}/pods/{name}/exec"];
        assert_eq!(exec["get"]["x-kubernetes-action"], "connect");
        assert_eq!(exec["post"]["x-kubernetes-action"], "connect");
        assert_eq!(
            paths["/api/v1/namespaces/{namespace}/pods/{name}/status"]["patch"]["x-kubernetes-group-version-kind"]
                ["kind"],
            "Pod"
        );

        let apps = doc("apis/apps/v1");
        let paths = apps["paths"].as_object().unwrap();
        let scale = &paths["/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/scale"];
        assert_eq!(
            scale["patch"]["x-kubernetes-group-version-kind"],
            json!({ "group": "autoscaling", "version": "v1", "kind": "Scale" })
        );
        assert_eq!(
            scale["patch"]["operationId"],
            "patchAppsV1NamespacedStatefulSetScale"
        );
        assert!(
            paths["/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/status"]
                .get("put")
                .is_some()
        );
        // Only this group-version's resources.
        assert!(!paths.keys().any(|p| p.starts_with("/api/v1")));
    }

    #[test]
    fn every_reference_resolves_and_every_kind_has_its_schema() {
        for (gv, _) in v3_index(&Snapshot::default())["paths"].as_object().unwrap() {
            let d = doc(gv);
            let schemas = d["components"]["schemas"].as_object().unwrap();
            let text = serde_json::to_string(&d).unwrap();
            assert!(!text.contains(schemas::REF_PREFIX), "{gv}");
            for piece in text.split(V3_REF_PREFIX).skip(1) {
                let name = piece.split('"').next().unwrap();
                assert!(schemas.contains_key(name), "{gv}: {name}");
            }
        }
        for r in RESOURCES {
            let d = doc(&gv_path(r.group, r.version));
            let s = &d["components"]["schemas"][schema_name(r.group, r.version, r.kind)];
            assert_eq!(
                s["x-kubernetes-group-version-kind"][0]["kind"], r.kind,
                "kubectl finds a kind's schema by this tag"
            );
        }
        // A field's own description stays beside its reference, in the
        // `allOf` form OpenAPI 3.0 requires.
        let apps = doc("apis/apps/v1");
        let spec =
            &apps["components"]["schemas"]["io.k8s.api.apps.v1.StatefulSet"]["properties"]["spec"];
        assert_eq!(
            spec["allOf"],
            json!([{ "$ref": "#/components/schemas/io.k8s.api.apps.v1.StatefulSetSpec" }])
        );
        assert!(spec["description"].is_string());
    }

    #[test]
    fn schema_names_follow_upstream() {
        assert_eq!(schema_name("", "v1", "Pod"), "io.k8s.api.core.v1.Pod");
        assert_eq!(
            schema_name("apps", "v1", "StatefulSet"),
            "io.k8s.api.apps.v1.StatefulSet"
        );
        assert_eq!(
            schema_name("storage.k8s.io", "v1", "StorageClass"),
            "io.k8s.api.storage.v1.StorageClass"
        );
        assert_eq!(
            schema_name("", "v1", "Status"),
            "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
        );
        assert_eq!(group_camel("coordination.k8s.io"), "Coordination");
        assert_eq!(group_camel(""), "Core");
    }

    #[test]
    fn hash_is_content_addressed() {
        assert_eq!(content_hash(b"abc"), content_hash(b"abc"));
        assert_ne!(content_hash(b"abc"), content_hash(b"abd"));
        // FNV-1a 128 of the empty input is its offset basis.
        assert_eq!(content_hash(b""), "6C62272E07BB014262B821756295C58D");
    }
}
