//! The REST verbs on resources: get, create, update, delete and
//! deletecollection, with list and watch delegated to their own modules.
//!
//! Each handler reads the request, checks it as upstream's generic registry
//! does (verb allowed, body well formed and of the right kind, namespace
//! present, preconditions met), writes through the store, and renders the
//! result in the representation the client asked for.

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use ordinal_store::{Object, StoreError};
use serde_json::{Value, json};

use crate::admission;
use crate::decode;
use crate::deletion;
use crate::fields;
use crate::list;
use crate::negotiate::{self, BodyType, Output};
use crate::objects::{self, Scope};
use crate::patch;
use crate::protobuf;
use crate::render;
use crate::request::{Query, Target};
use crate::resources::{self, Resource};
use crate::server::{AppState, MAX_BODY_BYTES};
use crate::status::{ApiError, ApiResult};
use crate::storable;
use crate::stored;
use crate::subresource;
use crate::watch;

/// How often an update whose precondition is "whatever is stored now" is
/// retried when another writer slips in between read and write.
pub(crate) const UPDATE_RETRIES: usize = 32;

/// How many objects of one deletecollection are deleted at a time.
const DELETE_COLLECTION_WORKERS: usize = 16;

/// Namespaces that exist from the start and may not be deleted.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Serves one request to a resource path.
pub async fn handle(
    state: Arc<AppState>,
    method: Method,
    target: Target,
    query: Query,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = dispatch(&state, &method, &target, &query, &headers, body).await;
    // A CRD written is served (or no longer) by the time the write is
    // answered; the custom resources' controller catches up on the rest.
    if *target.resource == resources::CUSTOM_RESOURCE_DEFINITIONS && method != Method::GET {
        state.custom.refresh(&state.store);
    }
    result.unwrap_or_else(IntoResponse::into_response)
}

fn require_verb(resource: &Resource, verb: &str) -> ApiResult<()> {
    if resource.verbs.contains(&verb) {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed())
    }
}

async fn dispatch(
    state: &Arc<AppState>,
    method: &Method,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let resource = target.resource;
    let sub = target.subresource.as_deref();
    match (method, target.name.is_some(), sub) {
        (&Method::GET, false, _) => {
            if query.flag("watch")? {
                require_verb(resource, "watch")?;
                watch::serve(state, target, query, headers).await
            } else {
                require_verb(resource, "list")?;
                list::serve(state, target, query, headers)
            }
        }
        (&Method::GET, true, Some("scale")) => {
            subresource::get_scale(state, target, query, headers)
        }
        (&Method::PUT, true, Some("scale")) => {
            let bytes = read_body(body, state.limits.body_timeout).await?;
            subresource::update_scale(state, target, query, headers, bytes).await
        }
        (&Method::PATCH, true, Some("scale")) => {
            let bytes = read_body(body, state.limits.body_timeout).await?;
            subresource::patch_scale(state, target, query, headers, bytes).await
        }
        (&Method::POST, true, Some("binding")) => {
            let bytes = read_body(body, state.limits.body_timeout).await?;
            subresource::bind(state, target, query, headers, bytes).await
        }
        (&Method::POST, true, Some("eviction")) => {
            let bytes = read_body(body, state.limits.body_timeout).await?;
            subresource::evict(state, target, query, headers, bytes).await
        }
        (&Method::GET, true, None | Some("status")) => {
            require_verb(resource, "get")?;
            get(state, target, query, headers)
        }
        (&Method::POST, false, _) => {
            require_verb(resource, "create")?;
            let bytes = read_body(body, state.limits.body_timeout).await?;
            create(state, target, query, headers, bytes).await
        }
        (&Method::PUT, true, None | Some("status")) => {
            require_verb(resource, "update")?;
            let bytes = read_body(body, state.limits.body_timeout).await?;
            update(state, target, query, headers, bytes).await
        }
        (&Method::PUT, true, Some("finalize")) => {
            require_verb(resource, "update")?;
            let bytes = read_body(body, state.limits.body_timeout).await?;
            finalize(state, target, query, headers, bytes).await
        }
        (&Method::PATCH, true, None | Some("status")) => {
            require_verb(resource, "patch")?;
            let bytes = read_body(body, state.limits.body_timeout).await?;
            patch(state, target, query, headers, bytes).await
        }
        (&Method::DELETE, true, None) => {
            require_verb(resource, "delete")?;
            let bytes = read_body(body, state.limits.body_timeout).await?;
            delete(state, target, query, headers, bytes).await
        }
        (&Method::DELETE, false, _) => {
            require_verb(resource, "deletecollection")?;
            let bytes = read_body(body, state.limits.body_timeout).await?;
            delete_collection(state, target, query, headers, bytes).await
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// Reads a request body, refusing anything over the limit with 413 — at
/// once when its `Content-Length` says so, before a byte of it is read —
/// and a body that does not arrive within `timeout` with upstream's 504
/// (its request timeout covers reading the body).
///
/// A body at most [`DRAINED_BEYOND_LIMIT`] over the limit is read to its
/// end (and dropped) before the 413, within `timeout`: a client that
/// writes its whole body before it reads the answer (hyper's does) then
/// gets the 413 instead of a broken pipe. A larger one is refused without
/// reading it.
pub async fn read_body(body: Body, timeout: std::time::Duration) -> ApiResult<Bytes> {
    use http_body::Body as _;
    let declared = body.size_hint().lower();
    if declared > MAX_BODY_BYTES as u64 {
        if declared <= (MAX_BODY_BYTES + DRAINED_BEYOND_LIMIT) as u64 {
            drain(body, MAX_BODY_BYTES + DRAINED_BEYOND_LIMIT, timeout).await;
        }
        return Err(ApiError::too_large());
    }
    let mut body = body;
    let mut buffer = bytes::BytesMut::new();
    let reading = async {
        while let Some(frame) = body.frame().await {
            let frame = frame?;
            if let Ok(data) = frame.into_data() {
                if buffer.len() + data.len() > MAX_BODY_BYTES {
                    return Ok::<_, axum::Error>(false);
                }
                buffer.extend_from_slice(&data);
            }
        }
        Ok(true)
    };
    let started = tokio::time::Instant::now();
    match tokio::time::timeout(timeout, reading).await {
        Err(_) => Err(ApiError::timeout(
            "request did not complete within requested timeout - context deadline exceeded",
        )),
        Ok(Ok(true)) => Ok(buffer.freeze()),
        Ok(Ok(false)) => {
            drop(buffer);
            let left = timeout.saturating_sub(started.elapsed());
            drain(body, DRAINED_BEYOND_LIMIT, left).await;
            Err(ApiError::too_large())
        }
        Ok(Err(e)) => Err(ApiError::bad_request(format!(
            "reading the request body: {e}"
        ))),
    }
}

/// How far past the body limit a request body is still read (and dropped)
/// so that its client sees the 413.
const DRAINED_BEYOND_LIMIT: usize = 1024 * 1024;

/// Reads and drops at most `left` bytes of `body`, for at most `timeout`.
async fn drain(mut body: Body, mut left: usize, timeout: std::time::Duration) {
    let draining = async {
        while let Some(Ok(frame)) = body.frame().await {
            let Ok(data) = frame.into_data() else {
                continue;
            };
            match left.checked_sub(data.len()) {
                Some(rest) => left = rest,
                None => return,
            }
        }
    };
    let _ = tokio::time::timeout(timeout, draining).await;
}

/// Maps a store failure that is not the client's doing.
pub fn store_failure(err: StoreError) -> ApiError {
    match err {
        StoreError::Closed => ApiError::service_unavailable("the server is shutting down"),
        full if full.is_disk_full() => ApiError::internal(format!(
            "storage: the disk holding the data dir is full; nothing of this write was stored ({full})"
        )),
        other => ApiError::internal(format!("storage: {other}")),
    }
}

pub(crate) fn parse_stored(object: &Object) -> ApiResult<Value> {
    serde_json::from_slice(&object.bytes)
        .map_err(|e| ApiError::internal(format!("decoding stored object: {e}")))
}

fn get(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let output = negotiate::output(headers, query.get("includeObject"))?;
    let key = target.key().expect("item path");
    let name = target.name.as_deref().unwrap_or("");
    let object = state
        .store
        .get(&key)
        .ok_or_else(|| ApiError::not_found(target.resource, name))?;
    render::object(target.resource, output, StatusCode::OK, &object.bytes)
}

/// `fieldValidation`: what to do with unknown and duplicate fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

fn field_validation(query: &Query) -> ApiResult<FieldValidation> {
    match query.get("fieldValidation") {
        None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
        Some("Ignore") => Ok(FieldValidation::Ignore),
        Some("Strict") => Ok(FieldValidation::Strict),
        Some(other) => Err(ApiError::bad_request(format!(
            "fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
        ))),
    }
}

/// A decoded write body, with the warnings to return beside the response.
pub(crate) struct Decoded {
    pub object: Value,
    pub warnings: Vec<String>,
}

/// Parses a create or update body, checks its fields against the kind's
/// schema as `fieldValidation` asks, and reconciles its type and namespace
/// with the URL.
fn decode_body(
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    bytes: &[u8],
) -> ApiResult<Decoded> {
    let resource = target.resource;
    let mut decoded = decode_as(
        resource.group,
        resource.version,
        resource.kind,
        query,
        headers,
        bytes,
    )?;
    objects::check_type(
        resource,
        resource.kind,
        &resource.api_version(),
        &mut decoded.object,
    )?;
    objects::check_namespace(resource, target.namespace.as_deref(), &mut decoded.object)?;
    let found = prune_custom(field_validation(query)?, resource, &mut decoded.object)?;
    decoded.warnings.extend(found);
    Ok(decoded)
}

/// The fields a custom resource's schema does not know, as
/// `fieldValidation` asks (see [`prune_patched`]); nothing for a built-in
/// resource, whose body `decode` has checked against its type.
fn prune_custom(
    validation: FieldValidation,
    resource: &Resource,
    object: &mut Value,
) -> ApiResult<Vec<String>> {
    let mut candidate = object.clone();
    let Some(shown) = resource.strategy.prune_unknown(&mut candidate) else {
        return Ok(Vec::new());
    };
    if shown.is_empty() {
        return Ok(Vec::new());
    }
    let report = decode::FieldReport::of_unknown(shown);
    if validation == FieldValidation::Strict
        && let Some(message) = report.strict_error_message()
    {
        return Err(ApiError::bad_request(message));
    }
    *object = candidate;
    Ok(match validation {
        FieldValidation::Warn => report.warnings(),
        _ => Vec::new(),
    })
}

/// Parses a write body meant to be a `group/version` `kind` (JSON, YAML or
/// protobuf), checking its fields as `fieldValidation` asks. The type and
/// namespace in the body are left for the caller to reconcile.
pub(crate) fn decode_as(
    group: &str,
    version: &str,
    kind_name: &str,
    query: &Query,
    headers: &HeaderMap,
    bytes: &[u8],
) -> ApiResult<Decoded> {
    let validation = field_validation(query)?;
    let body_type = negotiate::body_type(headers)?;
    // A protobuf body becomes the JSON it encodes; from there on it is
    // checked like any JSON body.
    let converted;
    let (bytes, format) = match body_type {
        BodyType::Json => (bytes, decode::Format::Json),
        BodyType::Yaml => (bytes, decode::Format::Yaml),
        BodyType::Protobuf => {
            let value = protobuf::decode(bytes).map_err(|e| match e {
                protobuf::ProtobufError::UnsupportedKind { .. } => {
                    ApiError::unsupported_media_type(&format!("{} ({e})", protobuf::CONTENT_TYPE))
                }
                other => ApiError::bad_request(other.to_string()),
            })?;
            converted = value.to_string().into_bytes();
            (converted.as_slice(), decode::Format::Json)
        }
        _ => {
            let raw = headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            return Err(ApiError::unsupported_media_type(raw));
        }
    };
    let object = decode::parse_body(bytes, format)
        .map_err(|e| ApiError::bad_request(e.for_kind(kind_name, bytes).message))?;
    if !object.is_object() {
        return Err(ApiError::bad_request(format!(
            "{kind_name} in version \"{version}\" cannot be handled as a {kind_name}: the body must be a JSON object"
        )));
    }
    let mut object = object;
    let warnings = check_unknown_fields(validation, group, kind_name, bytes, format, &mut object)?;
    Ok(Decoded { object, warnings })
}

/// Unknown and duplicate fields, as `fieldValidation` asks: an error when
/// Strict, warnings when Warn, nothing when Ignore. Unless refused, the
/// unknown fields are removed from `object` (the body as parsed): upstream
/// decodes into its Go types, which have nowhere to keep them.
fn check_unknown_fields(
    validation: FieldValidation,
    group: &str,
    kind: &str,
    bytes: &[u8],
    format: decode::Format,
    object: &mut Value,
) -> ApiResult<Vec<String>> {
    // Values of the wrong type are an error whatever fieldValidation says
    // (upstream always decodes into the type); only unknown and duplicate
    // fields depend on it.
    let report = decode::check_fields(group, kind, bytes, format)
        .map_err(|e| ApiError::bad_request(e.message))?;
    if validation != FieldValidation::Strict && !report.unknown_paths.is_empty() {
        decode::prune(object, &report.unknown_paths);
    }
    if validation == FieldValidation::Ignore {
        return Ok(Vec::new());
    }
    if validation == FieldValidation::Strict
        && let Some(message) = report.bad_request_message()
    {
        return Err(ApiError::bad_request(message));
    }
    Ok(report.warnings())
}

/// Adds `Warning` headers (values already in `299 - "..."` form).
pub(crate) fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for text in warnings {
        if let Ok(value) = HeaderValue::from_str(text) {
            response.headers_mut().append("Warning", value);
        }
    }
    response
}

pub(crate) fn dry_run(query: &Query) -> ApiResult<bool> {
    match query.get("dryRun") {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "dryRun: Unsupported value: \"{other}\": supported values: \"All\""
        ))),
    }
}

/// The namespace must exist and not be terminating to receive new objects.
fn check_namespace_open(
    state: &AppState,
    resource: &Resource,
    namespace: &str,
    name: &str,
) -> ApiResult<()> {
    let namespaces = &resources::NAMESPACES;
    let Some(ns) = state.store.get(&namespaces.key(None, namespace)) else {
        return Err(ApiError::not_found(namespaces, namespace));
    };
    let ns = parse_stored(&ns)?;
    if ns
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        return Err(ApiError::forbidden(
            resource,
            name,
            &format!(
                "unable to create new content in namespace {namespace} because it is being terminated"
            ),
        ));
    }
    Ok(())
}

/// Create-time state the API server itself owns (a new pod is Pending; a
/// new namespace is Active and carries the `kubernetes` finalizer): the
/// strategy's.
pub(crate) fn apply_create_defaults(resource: &Resource, object: &mut Value) {
    resource.strategy.prepare_for_create(object);
}

async fn create(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let resource = target.resource;
    if resource.namespaced && target.namespace.is_none() {
        return Err(ApiError::method_not_allowed());
    }
    resource
        .strategy
        .creatable()
        .map_err(|message| ApiError::new(405, "MethodNotAllowed", message))?;
    let output = negotiate::output(headers, query.get("includeObject"))?;
    let manager = fields::manager(query, headers, fields::Options::Create)?;
    let Decoded { object, warnings } = decode_body(target, query, headers, &bytes)?;
    let created = insert_object(state, target, query, object, Ownership::Update(&manager)).await?;
    let response = created.render(resource, output, StatusCode::CREATED)?;
    Ok(with_warnings(response, &warnings))
}

/// Creates an object from a decoded body: server-owned metadata, defaults,
/// validation, field ownership, then the store.
async fn insert_object(
    state: &AppState,
    target: &Target,
    query: &Query,
    mut object: Value,
    ownership: Ownership<'_>,
) -> ApiResult<Updated> {
    let resource = target.resource;
    let name = objects::prepare_create(resource, &mut object)?;
    if let Some(ns) = &target.namespace {
        check_namespace_open(state, resource, ns, &name)?;
    }
    apply_create_defaults(resource, &mut object);
    objects::normalize(resource, &mut object);
    admission::create(&state.store, resource, &name, &mut object)?;
    let dry = dry_run(query)?;
    // Held until the store has the object (or refused it).
    let _reserved = match resource.strategy.allocates_service_addresses() {
        true => state
            .allocator
            .create(&state.store, &name, &mut object, dry)?,
        false => None,
    };
    if let Ownership::Update(manager) = ownership {
        object = fields::track_update(target, None, object, manager);
    }
    storable::check(resource, &name, &object)?;
    let key = resource.key(target.namespace.as_deref(), &name);
    if dry {
        if state.store.get(&key).is_some() {
            return Err(ApiError::already_exists(resource, &name));
        }
        return Ok(Updated::DryRun(object));
    }
    let object = stored::into_storage(resource, object);
    let stored = state.store.create(key, object).await.map_err(|e| match e {
        StoreError::AlreadyExists => ApiError::already_exists(resource, &name),
        other => store_failure(other),
    })?;
    Ok(Updated::Stored(stored))
}

/// Who a write's changed fields are recorded for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ownership<'a> {
    /// A create, update or non-apply patch by this manager.
    Update(&'a str),
    /// Server-side apply, which has already recorded ownership.
    Applied,
}

/// The resourceVersion precondition a body carries, if any.
fn precondition_rv(resource: &Resource, name: &str, object: &Value) -> ApiResult<Option<u64>> {
    match objects::meta_str(object, "resourceVersion") {
        None | Some("") => Ok(None),
        Some(rv) => rv.parse::<u64>().map(Some).map_err(|_| {
            ApiError::invalid(
                resource,
                name,
                vec![crate::status::Cause {
                    reason: "FieldValueInvalid".into(),
                    message: format!("Invalid value: \"{rv}\": must be a valid resourceVersion"),
                    field: "metadata.resourceVersion".into(),
                }],
            )
        }),
    }
}

async fn update(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let resource = target.resource;
    let name = target.name.clone().unwrap_or_default();
    let Decoded {
        mut object,
        warnings,
    } = decode_body(target, query, headers, &bytes)?;
    objects::reconcile_name(&mut object, &name)?;
    let wanted_rv = precondition_rv(resource, &name, &object)?;
    let manager = fields::manager(query, headers, fields::Options::Update)?;
    let ownership = Ownership::Update(&manager);
    let response = guaranteed_update(state, target, query, headers, wanted_rv, ownership, |_| {
        Ok(object.clone())
    })
    .await?;
    Ok(with_warnings(response, &warnings))
}

/// `PUT namespaces/{name}/finalize`: changes only `spec.finalizers`; the
/// namespace goes when they and its metadata finalizers are empty.
async fn finalize(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let name = target.name.clone().unwrap_or_default();
    let Decoded { object, warnings } = decode_body(target, query, headers, &bytes)?;
    objects::check_name(&object, &name)?;
    let wanted_rv = precondition_rv(target.resource, &name, &object)?;
    let manager = fields::manager(query, headers, fields::Options::Update)?;
    let ownership = Ownership::Update(&manager);
    let response = guaranteed_update(state, target, query, headers, wanted_rv, ownership, |old| {
        deletion::finalize_namespace(old, &object)
    })
    .await?;
    Ok(with_warnings(response, &warnings))
}

async fn patch(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let resource = target.resource;
    let name = target.name.clone().unwrap_or_default();
    let body_type = negotiate::body_type(headers)?;
    if body_type == BodyType::ApplyPatch {
        return apply_patch(state, target, query, headers, bytes).await;
    }
    fields::check_patch_options(query, false)?;
    let manager = fields::manager(query, headers, fields::Options::Patch)?;
    if body_type == BodyType::StrategicMergePatch && resource.strategy.custom().is_some() {
        // Upstream has no patch metadata for custom resources.
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
        ));
    }
    let patch = patch::parse(body_type, resource, &bytes)?;
    let validation = field_validation(query)?;
    let api_version = resource.api_version();
    let ownership = Ownership::Update(&manager);
    let warnings = std::sync::Mutex::new(Vec::new());
    let response = guaranteed_update(state, target, query, headers, None, ownership, |old| {
        let mut new = patch.apply(old)?;
        storable::check_patched(resource, &new)?;
        let found = prune_patched(validation, resource, &mut new)?;
        *warnings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = found;
        objects::check_type(resource, resource.kind, &api_version, &mut new)?;
        objects::check_namespace(resource, target.namespace.as_deref(), &mut new)?;
        if objects::meta_str(&new, "name") != Some(name.as_str()) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                objects::meta_str(&new, "name").unwrap_or("")
            )));
        }
        // A resourceVersion the patch sets is a precondition; one it
        // removes (`"resourceVersion": null`, as kubectl apply sends when
        // the last-applied configuration held one) is no precondition.
        match objects::meta_str(&new, "resourceVersion") {
            None | Some("") => {
                if let (Some(rv), Some(meta)) = (
                    objects::meta_str(old, "resourceVersion"),
                    new.get_mut("metadata").and_then(Value::as_object_mut),
                ) {
                    meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
                }
            }
            theirs if theirs != objects::meta_str(old, "resourceVersion") => {
                return Err(ApiError::stale(resource, &name));
            }
            _ => {}
        }
        Ok(new)
    })
    .await?;
    let warnings = warnings
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(with_warnings(response, &warnings))
}

/// The unknown fields of a patched object, as `fieldValidation` asks:
/// refused when Strict, else removed from it (with warnings when Warn), as
/// upstream's decoding of the patched object into its type drops them.
fn prune_patched(
    validation: FieldValidation,
    resource: &Resource,
    patched: &mut Value,
) -> ApiResult<Vec<String>> {
    if resource.strategy.custom().is_some() {
        return prune_custom(validation, resource, patched);
    }
    let (paths, shown) = decode::unknown_fields_of(resource.group, resource.kind, patched);
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let report = decode::FieldReport::of_unknown(shown);
    if validation == FieldValidation::Strict
        && let Some(message) = report.strict_error_message()
    {
        return Err(ApiError::bad_request(message));
    }
    decode::prune(patched, &paths);
    Ok(match validation {
        FieldValidation::Warn => report.warnings(),
        _ => Vec::new(),
    })
}

/// Read, compute the new object, compare-and-swap; retried when another
/// writer got in between, unless the client pinned a resourceVersion.
pub(crate) async fn guaranteed_update(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    wanted_rv: Option<u64>,
    ownership: Ownership<'_>,
    make: impl Fn(&Value) -> ApiResult<Value>,
) -> ApiResult<Response> {
    let output = negotiate::output(headers, query.get("includeObject"))?;
    update_object(state, target, query, wanted_rv, ownership, make)
        .await?
        .render(target.resource, output, StatusCode::OK)
}

/// The object an update left behind.
pub(crate) enum Updated {
    /// What the store holds now (unchanged when the update was a no-op).
    Stored(Arc<Object>),
    /// What a dry run would have stored.
    DryRun(Value),
    /// The update removed the object's last finalizer during its deletion,
    /// so the object is gone; this is how the update left it.
    Removed(Value),
}

impl Updated {
    pub(crate) fn value(&self) -> ApiResult<Value> {
        match self {
            Updated::Stored(object) => parse_stored(object),
            Updated::DryRun(value) | Updated::Removed(value) => Ok(value.clone()),
        }
    }

    fn render(&self, resource: &Resource, output: Output, code: StatusCode) -> ApiResult<Response> {
        match self {
            Updated::Stored(object) => render::object(resource, output, code, &object.bytes),
            Updated::DryRun(value) | Updated::Removed(value) => {
                render::value_in(resource, output, code, value)
            }
        }
    }
}

/// The read-modify-write loop behind every update and patch.
pub(crate) async fn update_object(
    state: &AppState,
    target: &Target,
    query: &Query,
    wanted_rv: Option<u64>,
    ownership: Ownership<'_>,
    make: impl Fn(&Value) -> ApiResult<Value>,
) -> ApiResult<Updated> {
    let resource = target.resource;
    let name = target.name.clone().unwrap_or_default();
    let scope = if target.subresource.as_deref() == Some("status") {
        Scope::Status
    } else {
        Scope::Main
    };
    let key = target.key().expect("item path");
    let dry = dry_run(query)?;
    for _ in 0..UPDATE_RETRIES {
        let current = state
            .store
            .get(&key)
            .ok_or_else(|| ApiError::not_found(resource, &name))?;
        if let Some(rv) = wanted_rv
            && rv != current.rev
        {
            return Err(ApiError::stale(resource, &name));
        }
        let old = stored::value(resource, &current.bytes)?;
        let mut new = make(&old)?;
        objects::prepare_update(resource, &old, &mut new, scope)?;
        objects::normalize(resource, &mut new);
        deletion::check_update(resource, target.subresource.as_deref(), &old, &mut new)?;
        admission::update(&state.store, resource, &name, &old, &mut new, scope)?;
        let _reserved =
            match scope == Scope::Main && resource.strategy.allocates_service_addresses() {
                true => state
                    .allocator
                    .update(&state.store, &key, &name, &old, &mut new, dry)?,
                false => None,
            };
        objects::bump_generation(resource, &old, &mut new)?;
        if let Ownership::Update(manager) = ownership {
            new = fields::track_update(target, Some(&old), new, manager);
        }
        if objects::same_content(&old, &new) {
            return Ok(Updated::Stored(current));
        }
        storable::check(resource, &name, &new)?;
        if dry {
            return Ok(Updated::DryRun(new));
        }
        // The last finalizer of an object being deleted went: remove it and
        // answer with the object as the update left it (upstream's
        // ShouldDeleteDuringUpdate).
        if deletion::should_delete_during_update(resource, &old, &new) {
            match state.store.delete(key.clone(), Some(current.rev)).await {
                Ok(_) | Err(StoreError::NotFound) => return Ok(Updated::Removed(new)),
                Err(StoreError::Conflict { .. }) if wanted_rv.is_none() => continue,
                Err(StoreError::Conflict { .. }) => return Err(ApiError::stale(resource, &name)),
                Err(other) => return Err(store_failure(other)),
            }
        }
        let new = stored::into_storage(resource, new);
        match state.store.update(key.clone(), new, current.rev).await {
            Ok(stored) => return Ok(Updated::Stored(stored)),
            Err(StoreError::Conflict { .. }) if wanted_rv.is_none() => continue,
            Err(StoreError::Conflict { .. }) => return Err(ApiError::stale(resource, &name)),
            Err(StoreError::NotFound) => return Err(ApiError::not_found(resource, &name)),
            Err(other) => return Err(store_failure(other)),
        }
    }
    Err(ApiError::conflict(
        resource,
        &name,
        "the object is being modified too often; please try again",
    ))
}

/// PATCH with `application/apply-patch+yaml`: server-side apply, creating
/// the object when it does not exist.
async fn apply_patch(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let resource = target.resource;
    let name = target.name.clone().unwrap_or_default();
    let output = negotiate::output(headers, query.get("includeObject"))?;
    let force = fields::check_patch_options(query, true)?;
    let manager = fields::manager(query, headers, fields::Options::Patch)?;
    let Decoded {
        object: mut applied,
        warnings,
    } = decode_apply(resource.group, resource.kind, query, &bytes)?;
    let mut warnings = warnings;
    warnings.extend(prune_custom(
        field_validation(query)?,
        resource,
        &mut applied,
    )?);
    objects::check_type(
        resource,
        resource.kind,
        &resource.api_version(),
        &mut applied,
    )?;
    objects::check_namespace(resource, target.namespace.as_deref(), &mut applied)?;
    objects::reconcile_name(&mut applied, &name)?;
    let wanted_rv = precondition_rv(resource, &name, &applied)?;
    let key = target.key().unwrap_or_default();
    for _ in 0..UPDATE_RETRIES {
        if state.store.get(&key).is_none() {
            if wanted_rv.is_some() {
                return Err(ApiError::not_found(resource, &name));
            }
            let created = fields::apply(target, None, &applied, &manager, force)?;
            match insert_object(state, target, query, created, Ownership::Applied).await {
                Ok(done) => {
                    let response = done.render(resource, output, StatusCode::CREATED)?;
                    return Ok(with_warnings(response, &warnings));
                }
                // Someone created it meanwhile: apply over theirs.
                Err(e) if e.reason == "AlreadyExists" => continue,
                Err(e) => return Err(e),
            }
        }
        let updated = update_object(state, target, query, wanted_rv, Ownership::Applied, |old| {
            fields::apply(target, Some(old), &applied, &manager, force)
        })
        .await;
        match updated {
            Ok(done) => {
                let response = done.render(resource, output, StatusCode::OK)?;
                return Ok(with_warnings(response, &warnings));
            }
            // Deleted meanwhile: apply creates it.
            Err(e) if e.code == 404 && wanted_rv.is_none() => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::conflict(
        resource,
        &name,
        "the object is being modified too often; please try again",
    ))
}

/// Parses a server-side apply configuration (YAML or JSON) meant to be a
/// `group` `kind`, checking its fields as `fieldValidation` asks. The
/// type, namespace and name are left for the caller to reconcile.
pub(crate) fn decode_apply(
    group: &str,
    kind: &str,
    query: &Query,
    bytes: &[u8],
) -> ApiResult<Decoded> {
    let validation = field_validation(query)?;
    let mut applied = decode::parse_body(bytes, decode::Format::Yaml)
        .map_err(|e| ApiError::bad_request(e.for_kind(kind, bytes).message))?;
    if applied.is_null() {
        applied = json!({});
    }
    if !applied.is_object() {
        return Err(ApiError::bad_request(format!(
            "error decoding YAML: the apply configuration of a {kind} must be an object"
        )));
    }
    let warnings = check_unknown_fields(
        validation,
        group,
        kind,
        bytes,
        decode::Format::Yaml,
        &mut applied,
    )?;
    Ok(Decoded {
        object: applied,
        warnings,
    })
}

async fn delete(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let output = negotiate::output(headers, query.get("includeObject"))?;
    let opts = deletion::parse_options(query, headers, &bytes)?;
    let key = target.key().expect("item path");
    let name = target.name.clone().unwrap_or_default();
    let (code, value) = deletion::delete_object(state, target.resource, &key, &name, &opts).await?;
    if value.get("kind").and_then(Value::as_str) == Some("Status") {
        return Ok(render::json_response(code, value.to_string()));
    }
    render::value_in(target.resource, output, code, &value)
}

async fn delete_collection(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let resource = target.resource;
    let output = negotiate::output(headers, query.get("includeObject"))?;
    let opts = deletion::parse_options(query, headers, &bytes)?;
    let filter = list::Filter::from_query(resource, query)?;
    let snapshot = state.store.snapshot();
    let selected: Vec<Arc<Object>> = snapshot
        .range(&target.prefix(), None)
        .filter(|o| filter.matches(o))
        .cloned()
        .collect();
    // Deleted concurrently, as upstream's collection workers do; the answer
    // lists the objects as they were selected.
    let results: Vec<ApiResult<Value>> = futures::stream::iter(selected)
        .map(|object| {
            let opts = &opts;
            async move {
                let name = object.key.rsplit('/').next().unwrap_or("").to_string();
                let listed = stored::value(resource, &object.bytes)?;
                match deletion::delete_object(state, resource, &object.key, &name, opts).await {
                    Ok(_) => Ok(Some(listed)),
                    Err(e) if e.code == 404 => Ok(None),
                    Err(e) => Err(e),
                }
            }
        })
        .buffered(DELETE_COLLECTION_WORKERS)
        .filter_map(|r| async move { r.transpose() })
        .collect()
        .await;
    let deleted = results.into_iter().collect::<ApiResult<Vec<Value>>>()?;
    let body = json!({
        "kind": resource.list_kind(),
        "apiVersion": resource.api_version(),
        "metadata": {"resourceVersion": state.store.revision().to_string()},
        "items": deleted,
    });
    match output {
        Output::Json => Ok(render::json_response(StatusCode::OK, body.to_string())),
        other => render::value_in(resource, other, StatusCode::OK, &body),
    }
}
