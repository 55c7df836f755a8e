//! What a request asks to do, in the terms an authorizer decides on: a verb
//! on a resource (its group, namespace, name and subresource) or on a
//! non-resource path. Read from the method and URL alone, as upstream's
//! `RequestInfoFactory` does, so a request is authorized before anything
//! about it is looked up (a forbidden user cannot learn what exists).

/// The attributes of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attributes {
    /// `/api/v1/...`, `/apis/<group>/<version>/...` past the version.
    Resource(ResourceAttributes),
    /// Anything else: `/version`, `/apis`, `/openapi/v3`, `/healthz`.
    NonResource {
        /// The lower-case HTTP method: `get`, `post`, `put`…
        verb: String,
        /// The URL path.
        path: String,
    },
}

/// A verb on a resource.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceAttributes {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`.
    pub verb: String,
    /// The API group; empty for core.
    pub group: String,
    /// The API version.
    pub version: String,
    /// The plural: `pods`, `statefulsets`.
    pub resource: String,
    /// `status`, `scale`, `log`…
    pub subresource: String,
    /// The namespace, empty for cluster-scoped requests and for lists across
    /// namespaces.
    pub namespace: String,
    /// The object's name, empty for a collection.
    pub name: String,
}

impl Attributes {
    /// The verb, whichever kind of request.
    pub fn verb(&self) -> &str {
        match self {
            Attributes::Resource(r) => &r.verb,
            Attributes::NonResource { verb, .. } => verb,
        }
    }
}

/// The attributes of a request with this method, path and query.
pub fn of_request(method: &str, path: &str, query: Option<&str>) -> Attributes {
    let verb = method.to_ascii_lowercase();
    let parts: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|p| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let (group, version, rest) = match parts.as_slice() {
        [api, version, rest @ ..] if api == "api" => (String::new(), version, rest),
        [apis, group, version, rest @ ..] if apis == "apis" => (group.clone(), version, rest),
        _ => return non_resource(verb, path),
    };
    if rest.is_empty() || version.is_empty() {
        // `/api/v1`, `/apis/apps/v1`: discovery.
        return non_resource(verb, path);
    }
    let mut rest: Vec<String> = rest.to_vec();
    let mut watch = false;
    if rest.first().is_some_and(|p| p == "watch") {
        // The deprecated `/watch/` prefix.
        rest.remove(0);
        watch = true;
    }
    let mut out = ResourceAttributes {
        group,
        version: version.clone(),
        ..Default::default()
    };
    if rest.first().is_some_and(|p| p == "namespaces") && rest.len() > 1 {
        out.namespace = rest[1].clone();
        // `/namespaces/<ns>` and its own subresources name the namespace.
        if rest.len() > 2 && !matches!(rest[2].as_str(), "status" | "finalize") {
            rest.drain(..2);
        }
    }
    if rest.first().is_some_and(|p| p == "namespaces") && rest.len() > 1 {
        // The namespace is the object; it is not in a namespace.
        out.namespace.clear();
    }
    out.resource = rest.first().cloned().unwrap_or_default();
    out.name = rest.get(1).cloned().unwrap_or_default();
    out.subresource = rest.get(2).cloned().unwrap_or_default();
    out.verb = match verb.as_str() {
        "post" => "create",
        "get" | "head" => "get",
        "put" => "update",
        "patch" => "patch",
        "delete" => "delete",
        other => other,
    }
    .to_string();
    let params: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let param = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    if out.verb == "get" && out.name.is_empty() {
        out.verb = if watch || param("watch").is_some_and(|w| w == "true" || w == "1") {
            "watch".into()
        } else {
            "list".into()
        };
    } else if watch && out.verb == "get" {
        out.verb = "watch".into();
    }
    if out.verb == "delete" && out.name.is_empty() {
        out.verb = "deletecollection".into();
    }
    // A list or watch narrowed to one name by field selector is
    // authorized as that name, as upstream does.
    if matches!(out.verb.as_str(), "list" | "watch")
        && let Some(selector) = param("fieldSelector")
        && let Some(name) = single_name(selector)
    {
        out.name = name.to_string();
    }
    Attributes::Resource(out)
}

fn non_resource(verb: String, path: &str) -> Attributes {
    Attributes::NonResource {
        verb,
        path: path.to_string(),
    }
}

/// The name of `metadata.name=<name>` (or `==`), when that is the whole
/// selector.
fn single_name(selector: &str) -> Option<&str> {
    let rest = selector.strip_prefix("metadata.name")?;
    let name = rest.strip_prefix("==").or_else(|| rest.strip_prefix('='))?;
    (!name.contains(',') && !name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(method: &str, path: &str, query: Option<&str>) -> ResourceAttributes {
        match of_request(method, path, query) {
            Attributes::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn verbs_follow_method_name_and_query() {
        let r = res("GET", "/api/v1/namespaces/default/pods", None);
        assert_eq!(
            (r.verb.as_str(), r.resource.as_str(), r.namespace.as_str()),
            ("list", "pods", "default")
        );
        assert_eq!(res("GET", "/api/v1/pods", Some("watch=true")).verb, "watch");
        assert_eq!(
            res("GET", "/api/v1/watch/namespaces/a/pods", None).verb,
            "watch"
        );
        assert_eq!(res("GET", "/api/v1/namespaces/a/pods/x", None).verb, "get");
        assert_eq!(
            res("POST", "/api/v1/namespaces/a/pods", None).verb,
            "create"
        );
        assert_eq!(
            res("PUT", "/api/v1/namespaces/a/pods/x", None).verb,
            "update"
        );
        assert_eq!(
            res("PATCH", "/api/v1/namespaces/a/pods/x", None).verb,
            "patch"
        );
        assert_eq!(
            res("DELETE", "/api/v1/namespaces/a/pods/x", None).verb,
            "delete"
        );
        assert_eq!(
            res("DELETE", "/api/v1/namespaces/a/pods", None).verb,
            "deletecollection"
        );
        let r = res(
            "GET",
            "/api/v1/namespaces/a/pods",
            Some("fieldSelector=metadata.name%3Dweb-0"),
        );
        assert_eq!((r.verb.as_str(), r.name.as_str()), ("list", "web-0"));
        let r = res(
            "GET",
            "/api/v1/namespaces/a/pods",
            Some("fieldSelector=metadata.name%3Dweb-0,spec.nodeName%3Dn"),
        );
        assert_eq!(r.name, "");
    }

    #[test]
    fn groups_subresources_and_namespaces() {
        let r = res(
            "PATCH",
            "/apis/apps/v1/namespaces/a/statefulsets/web/scale",
            None,
        );
        assert_eq!(
            (
                r.group.as_str(),
                r.resource.as_str(),
                r.name.as_str(),
                r.subresource.as_str()
            ),
            ("apps", "statefulsets", "web", "scale")
        );
        let r = res("GET", "/api/v1/namespaces/a", None);
        assert_eq!(
            (r.resource.as_str(), r.name.as_str(), r.namespace.as_str()),
            ("namespaces", "a", "")
        );
        let r = res("PUT", "/api/v1/namespaces/a/finalize", None);
        assert_eq!(
            (r.resource.as_str(), r.name.as_str(), r.subresource.as_str()),
            ("namespaces", "a", "finalize")
        );
        let r = res("GET", "/api/v1/nodes/n1", None);
        assert_eq!((r.resource.as_str(), r.namespace.as_str()), ("nodes", ""));
    }

    #[test]
    fn discovery_and_other_paths_are_non_resource() {
        for p in [
            "/api",
            "/api/v1",
            "/apis",
            "/apis/apps",
            "/apis/apps/v1",
            "/version",
            "/openapi/v2",
            "/healthz",
        ] {
            assert!(
                matches!(of_request("GET", p, None), Attributes::NonResource { .. }),
                "{p}"
            );
        }
        assert_eq!(of_request("GET", "/version", None).verb(), "get");
    }
}
