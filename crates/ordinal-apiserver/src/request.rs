//! What a request is about: the resource, namespace, name and subresource a
//! URL names, and the query options of list, watch and write requests.
//!
//! Parsing follows upstream's RequestInfoFactory: `/api/v1/...` is the core
//! group, `/apis/<group>/<version>/...` the others, and
//! `/namespaces/<ns>/<resource>` scopes a namespaced resource, while
//! `/namespaces/<ns>` and `/namespaces/<ns>/status` name the namespace itself.

use std::collections::HashMap;

use crate::resources::{self, Resource};
use crate::status::{ApiError, ApiResult};

/// The object or collection a URL addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The resource the URL names.
    pub resource: &'static Resource,
    /// The namespace of a namespaced URL; `None` for cluster-scoped
    /// resources and for lists across all namespaces.
    pub namespace: Option<String>,
    /// The object's name; `None` for the collection.
    pub name: Option<String>,
    /// `status`, `scale`, `log`…, when the URL goes past the name.
    pub subresource: Option<String>,
}

impl Target {
    /// The storage key of the named object.
    pub fn key(&self) -> Option<String> {
        let name = self.name.as_deref()?;
        Some(self.resource.key(self.namespace.as_deref(), name))
    }

    /// The storage prefix of the addressed collection.
    pub fn prefix(&self) -> String {
        match (&self.namespace, self.resource.namespaced) {
            (Some(ns), true) => self.resource.namespace_prefix(ns),
            _ => self.resource.key_prefix(),
        }
    }
}

/// Namespace subresources: `/namespaces/<ns>/status` is the namespace's.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

/// Parses an API path; `None` means it is not a resource path at all.
pub fn parse_path(path: &str, custom: &crate::custom::Snapshot) -> Option<ApiResult<Target>> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    if rest.is_empty() || rest.iter().any(|p| p.is_empty()) {
        return None;
    }
    let decoded: Vec<String> = rest
        .iter()
        .map(|p| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let rest: Vec<&str> = decoded.iter().map(String::as_str).collect();

    let (namespace, rest) = match rest.as_slice() {
        [segment, ns, resource, tail @ ..]
            if *segment == crate::resources::NAMESPACES.plural
                && !NAMESPACE_SUBRESOURCES.contains(resource) =>
        {
            (Some(ns.to_string()), {
                let mut v = vec![*resource];
                v.extend_from_slice(tail);
                v
            })
        }
        _ => (None, rest.clone()),
    };
    let (plural, name, subresource) = match rest.as_slice() {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(name.to_string()), None),
        [plural, name, sub] => (*plural, Some(name.to_string()), Some(sub.to_string())),
        _ => return Some(Err(ApiError::no_route())),
    };
    let Some(resource) =
        resources::lookup(group, version, plural).or_else(|| custom.lookup(group, version, plural))
    else {
        return Some(Err(ApiError::no_route()));
    };
    if namespace.is_some() && !resource.namespaced {
        return Some(Err(ApiError::no_route()));
    }
    if let Some(sub) = &subresource
        && resource.subresource(sub).is_none()
    {
        return Some(Err(ApiError::no_route()));
    }
    Some(Ok(Target {
        resource,
        namespace,
        name,
        subresource,
    }))
}

/// Query parameters, first value wins (as Go's url.Values.Get).
#[derive(Debug, Default, Clone)]
pub(crate) struct Query {
    values: HashMap<String, String>,
}

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        let mut values = HashMap::new();
        if let Some(raw) = raw {
            for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
                values
                    .entry(k.into_owned())
                    .or_insert_with(|| v.into_owned());
            }
        }
        Query { values }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// A boolean parameter as Go's strconv.ParseBool reads it.
    pub fn flag(&self, key: &str) -> ApiResult<bool> {
        match self.get(key) {
            None | Some("") => Ok(false),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
            Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
            Some(other) => Err(ApiError::bad_request(format!(
                "invalid boolean value for {key}: {other:?}"
            ))),
        }
    }

    /// An integer parameter (`limit`, `timeoutSeconds`,
    /// `gracePeriodSeconds`), refused with the text of Go's
    /// `strconv.ParseInt`, which is what upstream's parameter decoding
    /// answers in its 400.
    pub fn integer(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => parse_go_int(v).map(Some).map_err(ApiError::bad_request),
        }
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)` and its error text.
pub fn parse_go_int(text: &str) -> Result<i64, String> {
    use std::num::IntErrorKind;
    text.parse::<i64>().map_err(|e| {
        let why = match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "value out of range",
            _ => "invalid syntax",
        };
        format!(
            "strconv.ParseInt: parsing {}: {why}",
            crate::names::go_quote(text)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> Target {
        parse_path(path, &Default::default())
            .expect("a resource path")
            .expect("served")
    }

    #[test]
    fn namespaced_collections_items_and_subresources() {
        let t = target("/api/v1/namespaces/default/pods");
        assert_eq!(t.resource.plural, "pods");
        assert_eq!(t.namespace.as_deref(), Some("default"));
        assert_eq!(t.name, None);
        let t = target("/apis/apps/v1/namespaces/ns1/statefulsets/web/scale");
        assert_eq!(t.resource.kind, "StatefulSet");
        assert_eq!(t.name.as_deref(), Some("web"));
        assert_eq!(t.subresource.as_deref(), Some("scale"));
        assert_eq!(t.key().unwrap(), "/apps/statefulsets/ns1/web");
    }

    #[test]
    fn namespaces_themselves() {
        let t = target("/api/v1/namespaces/default");
        assert_eq!(t.resource.plural, "namespaces");
        assert_eq!(t.name.as_deref(), Some("default"));
        let t = target("/api/v1/namespaces/default/status");
        assert_eq!(t.resource.plural, "namespaces");
        assert_eq!(t.subresource.as_deref(), Some("status"));
    }

    #[test]
    fn all_namespaces_and_cluster_scope() {
        let t = target("/api/v1/pods");
        assert_eq!(t.namespace, None);
        assert_eq!(t.prefix(), "/core/pods/");
        let t = target("/apis/storage.k8s.io/v1/storageclasses/local-path");
        assert_eq!(
            t.key().unwrap(),
            "/storage.k8s.io/storageclasses/local-path"
        );
    }

    #[test]
    fn unknown_things_are_404_not_panics() {
        for path in [
            "/api/v1/namespaces/default/widgets",
            "/apis/apps/v2/statefulsets",
            "/api/v1/namespaces/default/pods/a/b/c",
            "/api/v1/namespaces/default/configmaps/x/status",
            "/api/v1/namespaces/default/nodes",
        ] {
            assert_eq!(
                parse_path(path, &Default::default())
                    .unwrap()
                    .unwrap_err()
                    .code,
                404,
                "{path}"
            );
        }
        assert!(parse_path("/healthz", &Default::default()).is_none());
        assert!(parse_path("/api", &Default::default()).is_none());
        assert!(parse_path("/apis/apps/v1", &Default::default()).is_none());
    }

    #[test]
    fn query_flags_follow_go() {
        let q = Query::parse(Some("watch=1&allowWatchBookmarks=true&limit=5&x=%20y"));
        assert!(q.flag("watch").unwrap());
        assert!(q.flag("allowWatchBookmarks").unwrap());
        assert!(!q.flag("absent").unwrap());
        assert_eq!(q.integer("limit").unwrap(), Some(5));
        assert_eq!(q.get("x"), Some(" y"));
        assert_eq!(
            Query::parse(Some("watch=maybe"))
                .flag("watch")
                .unwrap_err()
                .code,
            400
        );
    }
}
