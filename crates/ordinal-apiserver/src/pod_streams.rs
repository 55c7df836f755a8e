//! `pods/log`, `pods/exec`, `pods/attach` and `pods/portforward`: checked
//! here as upstream's pod registry checks them (`LogLocation`,
//! `ExecLocation`, `AttachLocation`, `PortForwardLocation`), then proxied
//! to the node's
//! kubelet endpoint ([`crate::kubelet`]).
//!
//! - log: the options are validated (422 `PodLogOptions` with field
//!   causes), the container defaults to the only one, an unscheduled pod
//!   has no log yet (204, as upstream), and the node's answer is streamed
//!   through as `text/plain`, chunk by chunk when following. The node's
//!   errors become upstream's `Status`: its 400 text as `BadRequest`
//!   (`container "x" in pod "y" is waiting to start: ContainerCreating`),
//!   404 as the generic NotFound about `pods/log`, 500 as InternalError.
//! - exec, attach and portforward: an unscheduled pod is a 400; a request
//!   that is not an HTTP/1.1 upgrade is a 400; otherwise the upgrade
//!   (WebSocket or SPDY, protocol headers and all) goes to the node's
//!   `/exec`, `/attach` or `/portForward`, and once the node switches
//!   protocols the bytes are copied both ways until either side closes. A
//!   node that refuses answers the client directly, as upstream's
//!   upgrade-aware proxy does.
//!
//! The default container from the `kubectl.kubernetes.io/default-container`
//! annotation is kubectl's choice, made before it calls: the server only
//! defaults a pod's single container.

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use http::request::Parts;
use http::{HeaderName, HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use serde_json::Value;

use crate::kubelet;
use crate::request::Target;
use crate::server::AppState;
use crate::status::{ApiError, ApiResult, Cause};

/// How much of a node's error body is read (upstream's `maxReadLength`).
const MAX_ERROR_BODY: usize = 50_000;

/// Serves `pods/{name}/log`.
pub async fn log(state: &Arc<AppState>, target: &Target, parts: Parts) -> Response {
    match log_inner(state, target, parts).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

/// Serves `pods/{name}/exec`.
pub async fn exec(state: &Arc<AppState>, target: &Target, parts: Parts) -> Response {
    match exec_inner(state, target, parts).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

/// Serves `pods/{name}/attach`.
pub async fn attach(state: &Arc<AppState>, target: &Target, parts: Parts) -> Response {
    match streaming_inner(state, target, parts, Streaming::Attach).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

/// Serves `pods/{name}/portforward`.
pub async fn port_forward(state: &Arc<AppState>, target: &Target, parts: Parts) -> Response {
    match streaming_inner(state, target, parts, Streaming::PortForward).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

/// Query values in order, all of them (`command` repeats).
fn query_pairs(parts: &Parts) -> Vec<(String, String)> {
    form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A boolean option as apimachinery's query conversion reads it: absent,
/// `0` and `false` (any case) are false; anything else is true.
fn flag(pairs: &[(String, String)], key: &str) -> bool {
    first(pairs, key).is_some_and(|v| !(v == "0" || v.eq_ignore_ascii_case("false")))
}

fn integer(pairs: &[(String, String)], key: &str) -> ApiResult<Option<i64>> {
    match first(pairs, key) {
        None | Some("") => Ok(None),
        Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "invalid value for {key}: {v:?}: must be an integer"
            ))
        }),
    }
}

/// `PodLogOptions` as the API server receives them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LogOptions {
    pub container: String,
    pub follow: bool,
    pub previous: bool,
    pub timestamps: bool,
    pub since_seconds: Option<i64>,
    /// RFC 3339, seconds precision, as upstream forwards it.
    pub since_time: Option<String>,
    pub tail_lines: Option<i64>,
    pub limit_bytes: Option<i64>,
}

fn invalid(field: &str, value: i64, message: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: {value}: {message}"),
        field: field.into(),
    }
}

impl LogOptions {
    /// Decodes and validates (upstream's `ValidatePodLogOptions`).
    pub fn parse(pairs: &[(String, String)], pod: &str) -> ApiResult<LogOptions> {
        let since_time = match first(pairs, "sinceTime") {
            None | Some("") => None,
            Some(text) => {
                let time: jiff::Timestamp = text.parse().map_err(|_| {
                    ApiError::bad_request(format!(
                        "invalid value for sinceTime: {text:?}: must be RFC 3339"
                    ))
                })?;
                Some(time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            }
        };
        let opts = LogOptions {
            container: first(pairs, "container").unwrap_or("").to_string(),
            follow: flag(pairs, "follow"),
            previous: flag(pairs, "previous"),
            timestamps: flag(pairs, "timestamps"),
            since_seconds: integer(pairs, "sinceSeconds")?,
            since_time,
            tail_lines: integer(pairs, "tailLines")?,
            limit_bytes: integer(pairs, "limitBytes")?,
        };
        let mut causes = Vec::new();
        if let Some(t) = opts.tail_lines.filter(|t| *t < 0) {
            causes.push(invalid(
                "tailLines",
                t,
                "must be greater than or equal to 0",
            ));
        }
        if let Some(b) = opts.limit_bytes.filter(|b| *b < 1) {
            causes.push(invalid("limitBytes", b, "must be greater than 0"));
        }
        match (opts.since_seconds, &opts.since_time) {
            (Some(_), Some(_)) => causes.push(Cause {
                reason: "FieldValueForbidden".into(),
                message: "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"
                    .into(),
                field: String::new(),
            }),
            (Some(s), None) if s < 1 => {
                causes.push(invalid("sinceSeconds", s, "must be greater than 0"));
            }
            _ => {}
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid_kind("", "PodLogOptions", pod, causes));
        }
        Ok(opts)
    }

    /// The node's query, keys sorted as Go's `url.Values.Encode` sorts them.
    pub fn node_query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if self.follow {
            q.append_pair("follow", "true");
        }
        if let Some(b) = self.limit_bytes {
            q.append_pair("limitBytes", &b.to_string());
        }
        if self.previous {
            q.append_pair("previous", "true");
        }
        if let Some(s) = self.since_seconds {
            q.append_pair("sinceSeconds", &s.to_string());
        }
        if let Some(t) = &self.since_time {
            q.append_pair("sinceTime", t);
        }
        if let Some(t) = self.tail_lines {
            q.append_pair("tailLines", &t.to_string());
        }
        if self.timestamps {
            q.append_pair("timestamps", "true");
        }
        q.finish()
    }
}

/// The pod, by the target's namespace and name.
fn pod_of(state: &AppState, target: &Target) -> ApiResult<Value> {
    let name = target.name.as_deref().unwrap_or("");
    let object = state
        .store
        .get(&target.key().expect("an item path"))
        .ok_or_else(|| ApiError::not_found(target.resource, name))?;
    serde_json::from_slice(&object.bytes)
        .map_err(|e| ApiError::internal(format!("decoding pod {name}: {e}")))
}

fn names_in(pod: &Value, list: &str) -> Vec<String> {
    pod["spec"][list]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Upstream's `validateContainer`: the named container must exist (in
/// any list); no name picks the only app container.
pub fn container_for(pod: &Value, requested: &str) -> ApiResult<String> {
    let name = pod["metadata"]["name"].as_str().unwrap_or("");
    let app = names_in(pod, "containers");
    let all: Vec<String> = names_in(pod, "initContainers")
        .into_iter()
        .chain(app.iter().cloned())
        .chain(names_in(pod, "ephemeralContainers"))
        .collect();
    if requested.is_empty() {
        return match app.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}"
            ))),
            _ => Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                all.join(" ")
            ))),
        };
    }
    if all.iter().any(|c| c == requested) {
        Ok(requested.to_string())
    } else {
        Err(ApiError::bad_request(format!(
            "container {requested} is not valid for pod {name}"
        )))
    }
}

fn node_name(pod: &Value) -> &str {
    pod["spec"]["nodeName"].as_str().unwrap_or("")
}

fn segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn log_inner(state: &Arc<AppState>, target: &Target, parts: Parts) -> ApiResult<Response> {
    if parts.method != Method::GET {
        return Err(ApiError::method_not_allowed());
    }
    let name = target.name.clone().unwrap_or_default();
    let namespace = target.namespace.clone().unwrap_or_default();
    let opts = LogOptions::parse(&query_pairs(&parts), &name)?;
    let pod = pod_of(state, target)?;
    let container = container_for(&pod, &opts.container)?;
    let node = node_name(&pod);
    if node.is_empty() {
        // Not scheduled: no log yet, and no error either (upstream).
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let location = kubelet::locate(&state.store, node)?;
    let path = format!(
        "/containerLogs/{}/{}/{}",
        segment(&namespace),
        segment(&name),
        segment(&container)
    );
    let query = opts.node_query();
    let path_and_query = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    let failed = |e: &dyn std::fmt::Display| {
        ApiError::relayed(
            500,
            "",
            format!("Get {:?}: {e}", location.url(&path_and_query)),
        )
    };
    let mut sender = state
        .kubelet
        .connect(&location)
        .await
        .map_err(|e| failed(&e))?;
    let request = kubelet::request(Method::GET, &location, &path_and_query, &[])
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let response = sender.send_request(request).await.map_err(|e| failed(&e))?;
    let status = response.status();
    if !(200..=206).contains(&status.as_u16()) {
        let body = read_error_body(response.into_body()).await;
        return Err(node_error(status, &name, &body));
    }
    // The node connection lives as long as the body is read; a follow
    // ends when the server shuts down, as watches do.
    let mut shutdown = state.shutdown.clone();
    let stopped = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
    let chunks = http_body_util::BodyStream::new(response.into_body())
        .filter_map(move |frame| {
            let _keep = &sender;
            std::future::ready(match frame {
                Ok(frame) => frame.into_data().ok().map(Ok),
                Err(e) => Some(Err(e)),
            })
        })
        .take_until(stopped);
    let mut reply = Response::new(Body::from_stream(chunks));
    reply
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(reply)
}

async fn read_error_body(body: hyper::body::Incoming) -> String {
    match Limited::new(body, MAX_ERROR_BODY).collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(_) => String::new(),
    }
}

/// The node's error answer as upstream's `GenericHttpResponseChecker`
/// turns it into a Status.
pub fn node_error(status: StatusCode, name: &str, body: &str) -> ApiError {
    let code = status.as_u16();
    let about = |e: ApiError, message: &str| {
        ApiError::relayed(e.code, e.reason, format!("{message} ( pods/log {name})"))
            .about_resource("pods/log", name)
    };
    match code {
        500 => {
            let mut e = ApiError::relayed(
                500,
                "InternalError",
                format!("Internal error occurred: {body}"),
            );
            e.details.causes = vec![Cause {
                reason: String::new(),
                message: body.to_string(),
                field: String::new(),
            }];
            e
        }
        400 => ApiError::bad_request(body),
        404 => about(
            ApiError::relayed(404, "NotFound", ""),
            "the server could not find the requested resource",
        ),
        409 => about(
            ApiError::relayed(409, "Conflict", ""),
            "the server reported a conflict",
        ),
        401 => about(
            ApiError::relayed(401, "Unauthorized", ""),
            "the server has asked for the client to provide credentials",
        ),
        403 => about(ApiError::relayed(403, "Forbidden", ""), body),
        405 => about(
            ApiError::relayed(405, "MethodNotAllowed", ""),
            "the server does not allow this method on the requested resource",
        ),
        422 => about(
            ApiError::relayed(422, "Invalid", ""),
            "the server rejected our request due to an error in our request",
        ),
        429 => about(
            ApiError::relayed(429, "TooManyRequests", ""),
            "the server has received too many requests and has asked us to try again later",
        ),
        504 => about(
            ApiError::relayed(504, "Timeout", ""),
            "the server was unable to return a response in the time allotted, but may still be processing the request",
        ),
        c if c >= 500 => about(
            ApiError::relayed(c, "InternalError", ""),
            &format!("an error on the server ({body:?}) has prevented the request from succeeding"),
        ),
        c => about(
            ApiError::relayed(c, "", ""),
            &format!(
                "the server responded with the status code {c} but did not return more information"
            ),
        ),
    }
}

/// `PodExecOptions` as the API server receives them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExecOptions {
    pub container: String,
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

impl ExecOptions {
    pub fn parse(pairs: &[(String, String)]) -> ExecOptions {
        ExecOptions {
            container: first(pairs, "container").unwrap_or("").to_string(),
            command: pairs
                .iter()
                .filter(|(k, _)| k == "command")
                .map(|(_, v)| v.clone())
                .collect(),
            stdin: flag(pairs, "stdin"),
            stdout: flag(pairs, "stdout"),
            stderr: flag(pairs, "stderr"),
            tty: flag(pairs, "tty"),
        }
    }

    /// The kubelet's query: `command` repeated, streams as `input`,
    /// `output`, `error`, `tty` = `1`, keys sorted.
    pub fn node_query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for c in &self.command {
            q.append_pair("command", c);
        }
        if self.stderr {
            q.append_pair("error", "1");
        }
        if self.stdin {
            q.append_pair("input", "1");
        }
        if self.stdout {
            q.append_pair("output", "1");
        }
        if self.tty {
            q.append_pair("tty", "1");
        }
        q.finish()
    }
}

/// The node's port-forward path: upstream passes the requested `ports`
/// on as `port`.
fn port_forward_path(namespace: &str, name: &str, pairs: &[(String, String)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (_, port) in pairs.iter().filter(|(k, _)| k == "ports") {
        q.append_pair("port", port);
    }
    let query = q.finish();
    let path = format!("/portForward/{}/{}", segment(namespace), segment(name));
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}

/// Whether the request asks to switch protocols (WebSocket or SPDY).
fn is_upgrade(parts: &Parts) -> bool {
    let connection_upgrade = parts
        .headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    connection_upgrade && parts.headers.contains_key(header::UPGRADE)
}

/// Request headers that go to the node: those of the upgrade itself. The
/// client's credentials do not.
const FORWARDED: &[&str] = &[
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "x-stream-protocol-version",
    "user-agent",
];

/// Response headers of a switch that go back to the client.
const RETURNED: &[&str] = &[
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "x-stream-protocol-version",
];

/// What an upgrading subresource proxies to the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Streaming {
    Exec,
    Attach,
    PortForward,
}

async fn exec_inner(state: &Arc<AppState>, target: &Target, parts: Parts) -> ApiResult<Response> {
    streaming_inner(state, target, parts, Streaming::Exec).await
}

async fn streaming_inner(
    state: &Arc<AppState>,
    target: &Target,
    mut parts: Parts,
    kind: Streaming,
) -> ApiResult<Response> {
    if parts.method != Method::GET && parts.method != Method::POST {
        return Err(ApiError::method_not_allowed());
    }
    let name = target.name.clone().unwrap_or_default();
    let namespace = target.namespace.clone().unwrap_or_default();
    let pairs = query_pairs(&parts);
    let opts = ExecOptions::parse(&pairs);
    let pod = pod_of(state, target)?;
    let container = match kind {
        Streaming::PortForward => String::new(),
        Streaming::Exec | Streaming::Attach => container_for(&pod, &opts.container)?,
    };
    let node = node_name(&pod);
    if node.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let location = kubelet::locate(&state.store, node)?;
    let client_upgrade = parts
        .extensions
        .remove::<hyper::upgrade::OnUpgrade>()
        .filter(|_| is_upgrade(&parts));
    let Some(client_upgrade) = client_upgrade else {
        return Err(ApiError::bad_request("Upgrade request required"));
    };
    let path_and_query = match kind {
        Streaming::Exec => format!(
            "/exec/{}/{}/{}?{}",
            segment(&namespace),
            segment(&name),
            segment(&container),
            opts.node_query()
        ),
        Streaming::Attach => format!(
            "/attach/{}/{}/{}?{}",
            segment(&namespace),
            segment(&name),
            segment(&container),
            ExecOptions {
                command: Vec::new(),
                ..opts
            }
            .node_query()
        ),
        Streaming::PortForward => port_forward_path(&namespace, &name, &pairs),
    };
    let headers: Vec<(HeaderName, HeaderValue)> = parts
        .headers
        .iter()
        .filter(|(k, _)| FORWARDED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let dial_failed = |e: &dyn std::fmt::Display| {
        ApiError::relayed(500, "", format!("error dialing backend: {e}"))
    };
    let mut sender = state
        .kubelet
        .connect(&location)
        .await
        .map_err(|e| dial_failed(&e))?;
    let request = kubelet::request(parts.method.clone(), &location, &path_and_query, &headers)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut response = sender
        .send_request(request)
        .await
        .map_err(|e| dial_failed(&e))?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        // The node refused: its answer is the client's.
        let status = response.status();
        let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
        let body = match Limited::new(response.into_body(), MAX_ERROR_BODY)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(_) => Bytes::new(),
        };
        let mut reply = Response::new(Body::from(body));
        *reply.status_mut() = status;
        if let Some(content_type) = content_type {
            reply
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type);
        }
        // Upstream's proxy relays the kubelet's answer as it is, so kubectl
        // says "unable to upgrade connection: …" with the node's words.
        reply.extensions_mut().insert(crate::server::Relayed);
        return Ok(reply);
    }
    let mut reply = Response::new(Body::empty());
    *reply.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    for (k, v) in response.headers() {
        if RETURNED.contains(&k.as_str()) {
            reply.headers_mut().append(k.clone(), v.clone());
        }
    }
    let node_upgrade = hyper::upgrade::on(&mut response);
    tokio::spawn(async move {
        let _keep = sender;
        let (client, node) = match tokio::join!(client_upgrade, node_upgrade) {
            (Ok(client), Ok(node)) => (client, node),
            (client, node) => {
                tracing::debug!(
                    client = client.is_ok(),
                    node = node.is_ok(),
                    "exec: an upgrade did not complete"
                );
                return;
            }
        };
        let mut client = hyper_util::rt::TokioIo::new(client);
        let mut node = hyper_util::rt::TokioIo::new(node);
        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut node).await {
            tracing::debug!(error = %e, "exec: the proxied connection ended with an error");
        }
    });
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(query: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn log_options_validate_as_upstream() {
        let opts = LogOptions::parse(
            &pairs("container=app&follow=true&tailLines=10&timestamps=1&sinceTime=2024-05-01T10:00:03.5Z&limitBytes=9"),
            "web-0",
        )
        .unwrap();
        assert_eq!(
            opts.node_query(),
            "follow=true&limitBytes=9&sinceTime=2024-05-01T10%3A00%3A03Z&tailLines=10&timestamps=true"
        );
        let err = LogOptions::parse(&pairs("tailLines=-1&limitBytes=0"), "web-0").unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(
            err.message,
            "PodLogOptions \"web-0\" is invalid: [tailLines: Invalid value: -1: must be greater than or equal to 0, limitBytes: Invalid value: 0: must be greater than 0]"
        );
        let err = LogOptions::parse(
            &pairs("sinceSeconds=1&sinceTime=2024-05-01T10:00:03Z"),
            "web-0",
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "PodLogOptions \"web-0\" is invalid: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"
        );
        assert_eq!(
            LogOptions::parse(&pairs("sinceSeconds=0"), "p")
                .unwrap_err()
                .code,
            422
        );
        assert_eq!(
            LogOptions::parse(&pairs("tailLines=ten"), "p")
                .unwrap_err()
                .code,
            400
        );
        assert!(
            !LogOptions::parse(&pairs("follow=false"), "p")
                .unwrap()
                .follow
        );
        assert!(LogOptions::parse(&pairs("follow=yes"), "p").unwrap().follow);
    }

    #[test]
    fn containers_default_and_validate_as_upstream() {
        let one = json!({"metadata": {"name": "web-0"}, "spec": {
            "initContainers": [{"name": "init"}],
            "containers": [{"name": "app"}],
        }});
        assert_eq!(container_for(&one, "").unwrap(), "app");
        assert_eq!(container_for(&one, "init").unwrap(), "init");
        let err = container_for(&one, "nope").unwrap_err();
        assert_eq!((err.code, err.reason), (400, "BadRequest"));
        assert_eq!(err.message, "container nope is not valid for pod web-0");
        let two = json!({"metadata": {"name": "web-0"}, "spec": {
            "initContainers": [{"name": "init"}],
            "containers": [{"name": "a"}, {"name": "b"}],
        }});
        assert_eq!(
            container_for(&two, "").unwrap_err().message,
            "a container name must be specified for pod web-0, choose one of: [init a b]"
        );
    }

    #[test]
    fn exec_options_become_the_kubelets_query() {
        let opts = ExecOptions::parse(&pairs(
            "command=sh&command=-c&command=echo+out%3B+exit+3&container=app&stderr=true&stdout=true&stdin=false",
        ));
        assert_eq!(opts.command, vec!["sh", "-c", "echo out; exit 3"]);
        assert_eq!(
            opts.node_query(),
            "command=sh&command=-c&command=echo+out%3B+exit+3&error=1&output=1"
        );
    }

    #[test]
    fn port_forward_and_attach_paths_are_the_kubelets() {
        assert_eq!(
            port_forward_path("default", "web", &pairs("ports=80&ports=8080")),
            "/portForward/default/web?port=80&port=8080"
        );
        assert_eq!(
            port_forward_path("default", "web", &[]),
            "/portForward/default/web"
        );
        let attach = ExecOptions {
            command: Vec::new(),
            ..ExecOptions::parse(&pairs("container=sh&stdin=true&stdout=true&tty=true"))
        };
        assert_eq!(attach.node_query(), "input=1&output=1&tty=1");
    }

    #[test]
    fn node_errors_become_upstream_statuses() {
        let e = node_error(
            StatusCode::BAD_REQUEST,
            "web-0",
            "container \"app\" in pod \"web-0\" is waiting to start: ContainerCreating",
        );
        assert_eq!((e.code, e.reason), (400, "BadRequest"));
        assert_eq!(
            e.message,
            "container \"app\" in pod \"web-0\" is waiting to start: ContainerCreating"
        );
        let e = node_error(
            StatusCode::NOT_FOUND,
            "web-0",
            "pod \"web-0\" does not exist",
        );
        assert_eq!((e.code, e.reason), (404, "NotFound"));
        assert_eq!(
            e.message,
            "the server could not find the requested resource ( pods/log web-0)"
        );
        assert_eq!(e.to_status()["details"]["kind"], "pods/log");
        let e = node_error(StatusCode::INTERNAL_SERVER_ERROR, "web-0", "disk on fire");
        assert_eq!(e.message, "Internal error occurred: disk on fire");
        let e = node_error(StatusCode::BAD_GATEWAY, "web-0", "x");
        assert_eq!(e.reason, "InternalError");
        assert_eq!(e.code, 502);
    }
}
