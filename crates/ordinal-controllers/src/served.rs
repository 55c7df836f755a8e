//! Which resources the API server serves, through discovery, and the mapping
//! from an owner reference's `apiVersion`/`kind` to one of them.

use std::sync::Arc;

use kube::Client;
use kube::discovery::{ApiResource, Discovery, Scope};

/// Resources the garbage collector leaves alone, as upstream's defaults:
/// events are never owners nor collected.
const IGNORED: &[(&str, &str)] = &[("", "events"), ("events.k8s.io", "events")];

/// One served resource and what it supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub api: ApiResource,
    pub namespaced: bool,
    pub verbs: Vec<String>,
}

impl Served {
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    /// `plural.group`, the name upstream's messages use (`pods.`).
    pub fn group_resource(&self) -> String {
        format!("{}.{}", self.api.plural, self.api.group)
    }

    /// A stable key for the resource: `group/version/plural`.
    pub fn key(&self) -> String {
        format!(
            "{}/{}/{}",
            self.api.group, self.api.version, self.api.plural
        )
    }
}

/// Every resource of the preferred version of every group.
pub async fn discover(client: &Client) -> kube::Result<Vec<Arc<Served>>> {
    let discovery = Discovery::new(client.clone()).run().await?;
    let mut out = Vec::new();
    for group in discovery.groups() {
        for (api, caps) in group.recommended_resources() {
            out.push(Arc::new(Served {
                namespaced: caps.scope == Scope::Namespaced,
                verbs: caps.operations.clone(),
                api,
            }));
        }
    }
    Ok(out)
}

/// Whether the garbage collector watches and deletes this resource: it must
/// support list, watch and delete, and not be ignored.
pub fn collectable(served: &Served) -> bool {
    ["list", "watch", "delete"]
        .iter()
        .all(|v| served.supports(v))
        && !IGNORED
            .iter()
            .any(|(g, p)| served.api.group == *g && served.api.plural == *p)
}

/// Finds the resource an owner reference names: the exact group-version
/// first, then any served version of the group and kind.
pub fn resolve<'a>(
    served: &'a [Arc<Served>],
    api_version: &str,
    kind: &str,
) -> Option<&'a Arc<Served>> {
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    served
        .iter()
        .find(|s| s.api.api_version == api_version && s.api.kind == kind)
        .or_else(|| {
            served
                .iter()
                .find(|s| s.api.group == group && s.api.kind == kind)
        })
}

#[cfg(test)]
pub(crate) fn served(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
) -> Arc<Served> {
    let api_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Arc::new(Served {
        api: ApiResource {
            group: group.into(),
            version: version.into(),
            api_version,
            kind: kind.into(),
            plural: plural.into(),
        },
        namespaced,
        verbs: ["list", "watch", "delete", "deletecollection", "get"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_kinds_resolve_by_version_then_group() {
        let list = vec![
            served("", "v1", "ConfigMap", "configmaps", true),
            served("apps", "v1", "StatefulSet", "statefulsets", true),
            served("", "v1", "Event", "events", true),
        ];
        assert_eq!(
            resolve(&list, "v1", "ConfigMap").unwrap().api.plural,
            "configmaps"
        );
        assert_eq!(
            resolve(&list, "apps/v1beta1", "StatefulSet")
                .unwrap()
                .api
                .plural,
            "statefulsets"
        );
        assert!(resolve(&list, "v1", "Widget").is_none());
        assert!(collectable(&list[0]));
        assert!(!collectable(&list[2]), "events are ignored");
    }
}
