//! Discovery documents: what `GET /api`, `GET /apis`, `GET /apis/<group>`
//! and `GET /api/v1`, `GET /apis/<group>/<version>` answer.
//!
//! Two forms are served, chosen by the `Accept` header (see
//! [`wants_aggregated`]):
//!
//! * the aggregated form (`apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`),
//!   which lists every group, version and resource in the answer to `/api`
//!   and `/apis`, so kubectl makes no further discovery calls. It must be
//!   answered with the content type [`AGGREGATED_CONTENT_TYPE`]: client-go
//!   decides how to decode the body from the response's `Content-Type`
//!   (`discovery.ContentTypeIsGVK`) and falls back to the legacy decoding
//!   when the `g`, `v` and `as` parameters do not match.
//! * the legacy form (`APIVersions`, `APIGroupList`, `APIGroup`,
//!   `APIResourceList`), answered as plain `application/json`, for clients
//!   that do not ask for the aggregated one (kube-rs' `Discovery::run`,
//!   `kubectl get --raw`, curl).
//!
//! Everything here is a pure function of the registry in
//! [`crate::resources`]; the documents are built once and cloned.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::custom::Snapshot;
use crate::resources::{self, GROUPS, Resource, Subresource};

/// The `Content-Type` of an aggregated discovery answer.
pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// The group, version and kind named in the aggregated media type.
const AGGREGATED_GROUP: &str = "apidiscovery.k8s.io";
const AGGREGATED_VERSION: &str = "v2";
const AGGREGATED_KIND: &str = "APIGroupDiscoveryList";

/// `GET /api` in the aggregated form: an `APIGroupDiscoveryList` holding the
/// core group (whose name is empty).
pub fn aggregated_core() -> Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| discovery_list(vec![group_discovery("", &Snapshot::default())]))
        .clone()
}

/// `GET /apis` in the aggregated form: every named group, in [`GROUPS`]
/// order, then the custom resources' groups.
pub fn aggregated_groups(custom: &Snapshot) -> Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    let mut doc = DOC
        .get_or_init(|| {
            discovery_list(
                GROUPS
                    .iter()
                    .map(|g| group_discovery(g, &Snapshot::default()))
                    .collect(),
            )
        })
        .clone();
    if let Some(items) = doc["items"].as_array_mut() {
        items.extend(
            custom
                .groups()
                .into_iter()
                .map(|g| group_discovery(g, custom)),
        );
    }
    doc
}

/// The versions served for a group, built-in or custom, preferred first.
fn versions_of(group: &str, custom: &Snapshot) -> Vec<&'static str> {
    if group.is_empty() || GROUPS.contains(&group) {
        resources::versions(group)
    } else {
        custom.versions(group)
    }
}

/// The resources of one group-version, built-in or custom.
fn served_in(group: &str, version: &str, custom: &Snapshot) -> Vec<&'static Resource> {
    if group.is_empty() || GROUPS.contains(&group) {
        resources::in_group_version(group, version).collect()
    } else {
        custom.in_group_version(group, version).collect()
    }
}

fn discovery_list(items: Vec<Value>) -> Value {
    json!({
        "kind": AGGREGATED_KIND,
        "apiVersion": format!("{AGGREGATED_GROUP}/{AGGREGATED_VERSION}"),
        "metadata": {},
        "items": items,
    })
}

/// One `APIGroupDiscovery`: the group's name and its versions, preferred
/// version first (client-go takes the first non-stale version as the
/// preferred one).
fn group_discovery(group: &str, custom: &Snapshot) -> Value {
    let mut metadata = Map::new();
    if !group.is_empty() {
        metadata.insert("name".into(), json!(group));
    }
    let versions: Vec<Value> = versions_of(group, custom)
        .into_iter()
        .map(|version| {
            let resources: Vec<Value> = served_in(group, version, custom)
                .into_iter()
                .map(resource_discovery)
                .collect();
            json!({
                "version": version,
                "resources": resources,
                "freshness": "Current",
            })
        })
        .collect();
    json!({ "metadata": metadata, "versions": versions })
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "version": version, "kind": kind })
}

/// One `APIResourceDiscovery`. Empty lists are left out, as upstream's
/// `omitempty` does.
fn resource_discovery(r: &Resource) -> Value {
    let mut out = Map::new();
    out.insert("resource".into(), json!(r.plural));
    out.insert("responseKind".into(), gvk(r.group, r.version, r.kind));
    out.insert(
        "scope".into(),
        json!(if r.namespaced {
            "Namespaced"
        } else {
            "Cluster"
        }),
    );
    out.insert("singularResource".into(), json!(r.singular));
    out.insert("verbs".into(), json!(r.verbs));
    if !r.short_names.is_empty() {
        out.insert("shortNames".into(), json!(r.short_names));
    }
    if !r.categories.is_empty() {
        out.insert("categories".into(), json!(r.categories));
    }
    if !r.subresources.is_empty() {
        let subs: Vec<Value> = r.subresources.iter().map(subresource_discovery).collect();
        out.insert("subresources".into(), json!(subs));
    }
    Value::Object(out)
}

fn subresource_discovery(s: &Subresource) -> Value {
    json!({
        "subresource": s.name,
        "responseKind": gvk(s.group, s.version, s.kind),
        "verbs": s.verbs,
    })
}

/// Legacy `GET /api`: `APIVersions`.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": resources::versions(""),
        "serverAddressByClientCIDRs": [
            { "clientCIDR": "0.0.0.0/0", "serverAddress": server_address }
        ],
    })
}

/// Legacy `GET /apis`: `APIGroupList`.
pub fn api_group_list(custom: &Snapshot) -> Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    let mut doc = DOC
        .get_or_init(|| {
            let groups: Vec<Value> = GROUPS
                .iter()
                .filter_map(|g| group_body(g, &Snapshot::default()))
                .collect();
            json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
        })
        .clone();
    if let Some(groups) = doc["groups"].as_array_mut() {
        groups.extend(
            custom
                .groups()
                .into_iter()
                .filter_map(|g| group_body(g, custom)),
        );
    }
    doc
}

/// Legacy `GET /apis/<group>`: `APIGroup`, or `None` for a group that is not
/// served (including the core group, which lives at `/api`).
pub fn api_group(group: &str, custom: &Snapshot) -> Option<Value> {
    if group.is_empty() {
        return None;
    }
    let mut body = group_body(group, custom)?;
    let obj = body.as_object_mut()?;
    let mut out = Map::new();
    out.insert("kind".into(), json!("APIGroup"));
    out.insert("apiVersion".into(), json!("v1"));
    out.append(obj);
    Some(Value::Object(out))
}

/// The `APIGroup` fields shared by [`api_group`] and [`api_group_list`].
fn group_body(group: &str, custom: &Snapshot) -> Option<Value> {
    let versions: Vec<Value> = versions_of(group, custom)
        .into_iter()
        .map(|v| json!({ "groupVersion": format!("{group}/{v}"), "version": v }))
        .collect();
    let preferred = versions.first()?.clone();
    Some(json!({
        "name": group,
        "versions": versions,
        "preferredVersion": preferred,
    }))
}

/// Legacy `GET /api/v1` and `GET /apis/<group>/<version>`: an
/// `APIResourceList` with one entry per resource and one per subresource
/// (`pods/status`, `statefulsets/scale`), or `None` when nothing is served
/// at that group-version.
pub fn api_resource_list(group: &str, version: &str, custom: &Snapshot) -> Option<Value> {
    let served = served_in(group, version, custom);
    if served.is_empty() {
        return None;
    }
    let mut entries = Vec::new();
    for r in served {
        entries.push(legacy_resource(r));
        for s in r.subresources {
            entries.push(legacy_subresource(r, s));
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": entries,
    }))
}

fn legacy_resource(r: &Resource) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(r.plural));
    out.insert("singularName".into(), json!(r.singular));
    out.insert("namespaced".into(), json!(r.namespaced));
    out.insert("kind".into(), json!(r.kind));
    out.insert("verbs".into(), json!(r.verbs));
    if !r.short_names.is_empty() {
        out.insert("shortNames".into(), json!(r.short_names));
    }
    if !r.categories.is_empty() {
        out.insert("categories".into(), json!(r.categories));
    }
    Value::Object(out)
}

/// A subresource entry as upstream writes it: the `parent/sub` name, an
/// empty singular name, and `group`/`version` only when the subresource
/// speaks a kind of another group-version (`statefulsets/scale` is
/// `autoscaling/v1` `Scale`, `pods/eviction` is `policy/v1` `Eviction`).
fn legacy_subresource(parent: &Resource, s: &Subresource) -> Value {
    let mut out = Map::new();
    out.insert(
        "name".into(),
        json!(format!("{}/{}", parent.plural, s.name)),
    );
    out.insert("singularName".into(), json!(""));
    out.insert("namespaced".into(), json!(parent.namespaced));
    if s.group != parent.group || s.version != parent.version {
        out.insert("group".into(), json!(s.group));
        out.insert("version".into(), json!(s.version));
    }
    out.insert("kind".into(), json!(s.kind));
    out.insert("verbs".into(), json!(s.verbs));
    Value::Object(out)
}

/// Whether a discovery request (`GET /api`, `GET /apis`) should be answered
/// in the aggregated form.
///
/// Follows upstream's negotiation: the `Accept` clauses are taken in order
/// of preference (`q`, then position); the first clause the server can
/// serve decides. A clause naming `g=apidiscovery.k8s.io;v=v2;
/// as=APIGroupDiscoveryList` as JSON selects the aggregated form; a plain
/// clause (`application/json`, wildcards, no `as=`) selects the legacy form.
/// Clauses the server cannot serve are skipped: kube-apiserver 1.33 no
/// longer serves `v2beta1` (feature gate `AggregatedDiscoveryRemoveBetaType`
/// defaults to on), and we serve no protobuf.
///
/// kubectl 1.33 and kube-rs' `run_aggregated` both send
/// `application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,
/// application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,
/// application/json`.
pub fn wants_aggregated(accept: &str) -> bool {
    let mut clauses: Vec<MediaRange> = accept.split(',').filter_map(MediaRange::parse).collect();
    // Stable sort: equal q keeps the client's order.
    clauses.sort_by(|a, b| b.q.total_cmp(&a.q));
    for clause in clauses.iter().filter(|c| c.q > 0.0) {
        if clause.is_aggregated_v2_json() {
            return true;
        }
        if clause.is_plain_servable() {
            return false;
        }
    }
    false
}

/// One clause of an `Accept` header.
#[derive(Debug)]
struct MediaRange {
    kind: String,
    subtype: String,
    params: Vec<(String, String)>,
    q: f32,
}

impl MediaRange {
    fn parse(clause: &str) -> Option<MediaRange> {
        let mut parts = clause.split(';');
        let media = parts.next()?.trim().to_ascii_lowercase();
        let (kind, subtype) = media.split_once('/')?;
        if kind.is_empty() || subtype.is_empty() {
            return None;
        }
        let mut params = Vec::new();
        let mut q = 1.0;
        for p in parts {
            let Some((k, v)) = p.split_once('=') else {
                continue;
            };
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim().trim_matches('"').to_string();
            if k == "q" {
                q = v.parse().unwrap_or(0.0);
            } else {
                params.push((k, v));
            }
        }
        Some(MediaRange {
            kind: kind.to_string(),
            subtype: subtype.to_string(),
            params,
            q,
        })
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn is_json(&self) -> bool {
        self.kind == "application" && self.subtype == "json"
    }

    fn is_aggregated_v2_json(&self) -> bool {
        self.is_json()
            && self.param("g") == Some(AGGREGATED_GROUP)
            && self.param("v") == Some(AGGREGATED_VERSION)
            && self.param("as") == Some(AGGREGATED_KIND)
    }

    /// A clause the legacy form satisfies: no conversion asked for, and a
    /// media type we can answer with JSON.
    fn is_plain_servable(&self) -> bool {
        if self.param("as").is_some() || self.param("g").is_some() || self.param("v").is_some() {
            return false;
        }
        match (self.kind.as_str(), self.subtype.as_str()) {
            ("*", "*") | ("application", "*") | ("application", "json") => true,
            // Protobuf and YAML are answered with JSON by this server, as an
            // apiserver answers a media type it cannot produce for a
            // discovery document: the legacy form, not the aggregated one.
            ("application", "vnd.kubernetes.protobuf") | ("application", "yaml") => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::RESOURCES;

    const KUBECTL_133_ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

    fn find<'a>(list: &'a Value, name: &str) -> &'a Value {
        list.as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == name || r["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    }

    /// All aggregated resource entries, with the group they were found in.
    fn aggregated_entries() -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for doc in [aggregated_core(), aggregated_groups(&Snapshot::default())] {
            for item in doc["items"].as_array().unwrap() {
                let group = item["metadata"]["name"].as_str().unwrap_or("").to_string();
                for v in item["versions"].as_array().unwrap() {
                    assert_eq!(v["freshness"], "Current");
                    for r in v["resources"].as_array().unwrap() {
                        out.push((group.clone(), r.clone()));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn aggregated_lists_are_apigroupdiscoverylists() {
        for doc in [aggregated_core(), aggregated_groups(&Snapshot::default())] {
            assert_eq!(doc["kind"], "APIGroupDiscoveryList");
            assert_eq!(doc["apiVersion"], "apidiscovery.k8s.io/v2");
        }
        let core = aggregated_core();
        assert_eq!(core["items"].as_array().unwrap().len(), 1);
        assert!(core["items"][0]["metadata"].get("name").is_none());
        let groups = aggregated_groups(&Snapshot::default());
        let names: Vec<&str> = groups["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, GROUPS);
    }

    #[test]
    fn aggregated_documents_carry_every_resource_with_its_kind_and_scope() {
        let entries = aggregated_entries();
        assert_eq!(entries.len(), RESOURCES.len());
        for r in RESOURCES {
            let (_, e) = entries
                .iter()
                .find(|(g, e)| g == r.group && e["resource"] == r.plural)
                .unwrap_or_else(|| panic!("{} missing", r.qualified_name()));
            assert_eq!(e["responseKind"], gvk(r.group, r.version, r.kind));
            let scope = if r.namespaced {
                "Namespaced"
            } else {
                "Cluster"
            };
            assert_eq!(e["scope"], scope, "{}", r.plural);
            assert_eq!(e["singularResource"], r.singular);
            assert_eq!(e["verbs"], json!(r.verbs));
        }
    }

    #[test]
    fn aggregated_short_names_categories_and_subresources() {
        let entries = aggregated_entries();
        let get = |group: &str, plural: &str| -> Value {
            entries
                .iter()
                .find(|(g, e)| g == group && e["resource"] == plural)
                .unwrap()
                .1
                .clone()
        };
        for (group, plural, short) in [
            ("", "pods", "po"),
            ("apps", "statefulsets", "sts"),
            ("apps", "deployments", "deploy"),
            ("apps", "replicasets", "rs"),
            ("", "services", "svc"),
            ("", "persistentvolumeclaims", "pvc"),
            ("", "persistentvolumes", "pv"),
            ("", "configmaps", "cm"),
            ("", "namespaces", "ns"),
            ("", "nodes", "no"),
            ("", "endpoints", "ep"),
            ("", "serviceaccounts", "sa"),
            ("storage.k8s.io", "storageclasses", "sc"),
            ("", "events", "ev"),
        ] {
            let e = get(group, plural);
            assert!(
                e["shortNames"].as_array().unwrap().contains(&json!(short)),
                "{plural} lacks {short}"
            );
        }
        for (group, plural) in [
            ("", "pods"),
            ("", "services"),
            ("apps", "statefulsets"),
            ("apps", "deployments"),
            ("apps", "replicasets"),
        ] {
            assert_eq!(get(group, plural)["categories"], json!(["all"]), "{plural}");
        }
        assert!(get("", "configmaps").get("categories").is_none());

        let sub = |group: &str, plural: &str, name: &str| -> Value {
            get(group, plural)["subresources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["subresource"] == name)
                .unwrap_or_else(|| panic!("{plural}/{name} missing"))
                .clone()
        };
        assert_eq!(
            sub("apps", "statefulsets", "scale")["responseKind"],
            gvk("autoscaling", "v1", "Scale")
        );
        assert_eq!(
            sub("apps", "statefulsets", "status")["responseKind"],
            gvk("apps", "v1", "StatefulSet")
        );
        assert_eq!(
            sub("", "pods", "status")["responseKind"],
            gvk("", "v1", "Pod")
        );
        assert_eq!(sub("", "pods", "log")["verbs"], json!(["get"]));
        assert!(
            sub("", "pods", "exec")["verbs"]
                .as_array()
                .unwrap()
                .contains(&json!("create"))
        );
        assert_eq!(
            sub("", "pods", "eviction")["responseKind"],
            gvk("policy", "v1", "Eviction")
        );
        assert_eq!(
            sub("", "pods", "binding")["responseKind"],
            gvk("", "v1", "Binding")
        );
        for (_, e) in &entries {
            for s in e["subresources"].as_array().into_iter().flatten() {
                assert!(
                    s["responseKind"]["kind"]
                        .as_str()
                        .is_some_and(|k| !k.is_empty())
                );
            }
        }
    }

    /// The aggregated form decodes with kube-rs' own types, so field names
    /// match what clients read.
    #[test]
    fn aggregated_form_decodes_as_kube_types() {
        use kube::core::discovery::v2::APIGroupDiscoveryList;
        let apis: APIGroupDiscoveryList =
            serde_json::from_value(aggregated_groups(&Snapshot::default())).unwrap();
        let apps = apis
            .items
            .iter()
            .find(|g| g.metadata.as_ref().and_then(|m| m.name.as_deref()) == Some("apps"))
            .unwrap();
        let sts = apps.versions[0]
            .resources
            .iter()
            .find(|r| r.resource.as_deref() == Some("statefulsets"))
            .unwrap();
        assert_eq!(sts.scope.as_deref(), Some("Namespaced"));
        assert_eq!(sts.short_names, vec!["sts"]);
        let scale = sts
            .subresources
            .iter()
            .find(|s| s.subresource.as_deref() == Some("scale"))
            .unwrap();
        assert_eq!(
            scale.response_kind.as_ref().unwrap().kind.as_deref(),
            Some("Scale")
        );
        let core: APIGroupDiscoveryList = serde_json::from_value(aggregated_core()).unwrap();
        assert_eq!(core.items[0].versions[0].version.as_deref(), Some("v1"));
    }

    #[test]
    fn legacy_resource_lists_carry_subresources() {
        let core = api_resource_list("", "v1", &Snapshot::default()).unwrap();
        assert_eq!(core["kind"], "APIResourceList");
        assert_eq!(core["groupVersion"], "v1");
        let list = &core["resources"];
        let pods = find(list, "pods");
        assert_eq!(pods["namespaced"], true);
        assert_eq!(pods["kind"], "Pod");
        assert_eq!(pods["singularName"], "pod");
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        let status = find(list, "pods/status");
        assert_eq!(status["kind"], "Pod");
        assert!(status.get("group").is_none());
        let eviction = find(list, "pods/eviction");
        assert_eq!(eviction["group"], "policy");
        assert_eq!(eviction["version"], "v1");
        assert_eq!(eviction["kind"], "Eviction");
        for name in ["pods/log", "pods/exec", "pods/binding", "nodes/status"] {
            find(list, name);
        }
        assert_eq!(find(list, "nodes")["namespaced"], false);

        let apps = api_resource_list("apps", "v1", &Snapshot::default()).unwrap();
        assert_eq!(apps["groupVersion"], "apps/v1");
        let scale = find(&apps["resources"], "statefulsets/scale");
        assert_eq!(scale["group"], "autoscaling");
        assert_eq!(scale["kind"], "Scale");
        find(&apps["resources"], "statefulsets/status");
        for name in ["deployments/scale", "replicasets/scale"] {
            assert_eq!(find(&apps["resources"], name)["kind"], "Scale", "{name}");
        }

        // Every registry resource and subresource appears in its list.
        for r in RESOURCES {
            let l = api_resource_list(r.group, r.version, &Snapshot::default()).unwrap();
            find(&l["resources"], r.plural);
            for s in r.subresources {
                find(&l["resources"], &format!("{}/{}", r.plural, s.name));
            }
        }
        assert!(api_resource_list("apps", "v2", &Snapshot::default()).is_none());
        assert!(
            api_resource_list("flowcontrol.apiserver.k8s.io", "v1", &Snapshot::default()).is_none()
        );
    }

    #[test]
    fn legacy_groups_and_versions() {
        let v = api_versions("127.0.0.1:6443");
        assert_eq!(v["kind"], "APIVersions");
        assert_eq!(v["versions"], json!(["v1"]));
        assert_eq!(
            v["serverAddressByClientCIDRs"][0]["serverAddress"],
            "127.0.0.1:6443"
        );

        let list = api_group_list(&Snapshot::default());
        assert_eq!(list["kind"], "APIGroupList");
        let groups = list["groups"].as_array().unwrap();
        assert_eq!(groups.len(), GROUPS.len());
        assert_eq!(groups[0]["name"], "apps");
        assert_eq!(groups[0]["preferredVersion"]["groupVersion"], "apps/v1");

        let apps = api_group("apps", &Snapshot::default()).unwrap();
        assert_eq!(apps["kind"], "APIGroup");
        assert_eq!(
            apps["versions"],
            json!([{ "groupVersion": "apps/v1", "version": "v1" }])
        );
        assert!(api_group("flowcontrol.apiserver.k8s.io", &Snapshot::default()).is_none());
        assert!(api_group("", &Snapshot::default()).is_none());
    }

    #[test]
    fn accept_negotiation() {
        assert!(wants_aggregated(KUBECTL_133_ACCEPT));
        assert!(wants_aggregated(AGGREGATED_CONTENT_TYPE));
        assert!(wants_aggregated(
            "application/json; g=apidiscovery.k8s.io; v=v2; as=APIGroupDiscoveryList"
        ));
        assert!(wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;profile=nopeer,application/json"
        ));
        assert!(!wants_aggregated("application/json"));
        assert!(!wants_aggregated("application/json, */*"));
        assert!(!wants_aggregated("*/*"));
        assert!(!wants_aggregated(""));
        // v2beta1 alone is not served by 1.33: legacy.
        assert!(!wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
        ));
        // Preference order decides.
        assert!(!wants_aggregated(
            "application/json,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        ));
        assert!(wants_aggregated(
            "application/json;q=0.5,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        ));
        // Aggregated protobuf is not served; the JSON fallback is legacy.
        assert!(!wants_aggregated(
            "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        ));
    }
}
