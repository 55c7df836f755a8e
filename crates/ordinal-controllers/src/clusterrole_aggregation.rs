//! The cluster-role aggregation controller, as upstream's
//! (pkg/controller/clusterroleaggregation): a ClusterRole with an
//! `aggregationRule` has as `rules` the rules of every other ClusterRole
//! its `clusterRoleSelectors` select. That is how `admin`, `edit` and
//! `view` grow when a role labelled
//! `rbac.authorization.k8s.io/aggregate-to-view: "true"` (say) appears.
//!
//! [`aggregate`] decides, from the cached cluster roles alone, what the
//! rules should be: selector by selector, the selected roles by name, each
//! rule once, in that order — so the result never depends on the order of
//! a list, and an unchanged result means no write. The controller writes
//! only a difference, as an update of the role (with upstream's field
//! manager), and any change to any cluster role looks at every aggregating
//! one again.

use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::api::{Api, PostParams};
use ordinal_core::labels::{InvalidExpression, Selector};

use crate::informer::{Informer, Informers};
use crate::runtime::{self, Next, Queue, Reconciler};

/// The field manager of the controller's writes (upstream's).
pub const FIELD_MANAGER: &str = "clusterrole-aggregation-controller";
const WORKERS: usize = 1;

/// Whether two rules are the same, as upstream's semantic equality sees
/// them (an absent list is an empty one).
fn same_rule(a: &PolicyRule, b: &PolicyRule) -> bool {
    fn list(v: &Option<Vec<String>>) -> &[String] {
        v.as_deref().unwrap_or(&[])
    }
    a.verbs == b.verbs
        && list(&a.api_groups) == list(&b.api_groups)
        && list(&a.resources) == list(&b.resources)
        && list(&a.resource_names) == list(&b.resource_names)
        && list(&a.non_resource_urls) == list(&b.non_resource_urls)
}

fn same_rules(a: &[PolicyRule], b: &[PolicyRule]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_rule(a, b))
}

/// The rules `role` should have, when they differ from those it has:
/// `Ok(None)` for a role without an aggregation rule or already up to
/// date. `roles` are all cluster roles (`role` among them or not). A
/// selector that cannot be compiled is an error, as upstream's.
pub fn aggregate(
    role: &ClusterRole,
    roles: &[Arc<ClusterRole>],
) -> Result<Option<Vec<PolicyRule>>, InvalidExpression> {
    let Some(rule) = &role.aggregation_rule else {
        return Ok(None);
    };
    let mut sorted: Vec<&ClusterRole> = roles.iter().map(AsRef::as_ref).collect();
    sorted.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut rules: Vec<PolicyRule> = Vec::new();
    for selector in rule.cluster_role_selectors.iter().flatten() {
        let selector = Selector::compile(selector)?;
        let selected = sorted.iter().filter(|r| {
            r.metadata.name != role.metadata.name && selector.matches(r.metadata.labels.as_ref())
        });
        for r in selected.flat_map(|r| r.rules.iter().flatten()) {
            if !rules.iter().any(|have| same_rule(have, r)) {
                rules.push(r.clone());
            }
        }
    }
    let current = role.rules.as_deref().unwrap_or(&[]);
    Ok((!same_rules(current, &rules)).then_some(rules))
}

/// Runs the controller on `informers` until `shutdown` completes.
pub async fn run(informers: Arc<Informers>, shutdown: impl Future<Output = ()> + Send) {
    let roles: Arc<Informer<ClusterRole>> = informers.get();
    let queue = Queue::new();
    let (q, cache) = (Arc::clone(&queue), Arc::downgrade(&roles));
    roles.on_change(Box::new(move |old, new| {
        // A role's labels or rules may matter to any aggregating role; an
        // aggregating role itself needs a look when its rule changes.
        let Some(cache) = cache.upgrade() else { return };
        for changed in old.into_iter().chain(new) {
            if changed.aggregation_rule.is_some() {
                q.add(changed.metadata.name.clone().unwrap_or_default());
            }
        }
        q.add_all(
            cache
                .list()
                .iter()
                .filter(|r| r.aggregation_rule.is_some())
                .filter_map(|r| r.metadata.name.clone()),
        );
    }));
    let ready = {
        let roles = Arc::clone(&roles);
        async move { roles.synced().await }
    };
    let controller = Arc::new(Controller {
        client: informers.client().clone(),
        roles,
    });
    runtime::drive(controller, queue, WORKERS, ready, shutdown).await;
}

struct Controller {
    client: kube::Client,
    roles: Arc<Informer<ClusterRole>>,
}

impl Reconciler for Controller {
    type Key = String;

    async fn reconcile(&self, name: &String) -> Next {
        let Some(role) = self.roles.get("", name) else {
            return Next::Done;
        };
        let rules = match aggregate(&role, &self.roles.list()) {
            Ok(Some(rules)) => rules,
            Ok(None) => return Next::Done,
            Err(e) => {
                tracing::debug!(role = %name, error = %e, "cluster role aggregation: bad selector");
                return Next::Done;
            }
        };
        let mut updated = (*role).clone();
        updated.rules = Some(rules);
        let api: Api<ClusterRole> = Api::all(self.client.clone());
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PostParams::default()
        };
        match api.replace(name, &params, &updated).await {
            Ok(written) => {
                self.roles.written(written);
                Next::Done
            }
            // Gone, or changed since the cache saw it: its event brings
            // it back.
            Err(kube::Error::Api(e)) if matches!(e.code, 404 | 409) => Next::Done,
            Err(e) => Next::from(Err::<(), _>(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::rbac::v1::AggregationRule;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

    use super::*;

    fn rule(verbs: &[&str], resources: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
            api_groups: Some(vec![String::new()]),
            resources: Some(resources.iter().map(|r| r.to_string()).collect()),
            ..PolicyRule::default()
        }
    }

    fn role(name: &str, labels: &[(&str, &str)], rules: Vec<PolicyRule>) -> Arc<ClusterRole> {
        let mut r = ClusterRole::default();
        r.metadata.name = Some(name.into());
        r.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        );
        r.rules = Some(rules);
        Arc::new(r)
    }

    fn aggregating(name: &str, selectors: Vec<LabelSelector>) -> ClusterRole {
        let mut r = ClusterRole::default();
        r.metadata.name = Some(name.into());
        r.aggregation_rule = Some(AggregationRule {
            cluster_role_selectors: Some(selectors),
        });
        r
    }

    fn labelled(key: &str) -> LabelSelector {
        LabelSelector {
            match_labels: Some(BTreeMap::from([(key.to_string(), "true".to_string())])),
            ..LabelSelector::default()
        }
    }

    #[test]
    fn the_selected_roles_rules_by_selector_then_name_each_once() {
        let monitoring = aggregating("monitoring", vec![labelled("a"), labelled("b")]);
        let roles = vec![
            role("zeta", &[("a", "true")], vec![rule(&["get"], &["pods"])]),
            role(
                "alpha",
                &[("a", "true")],
                vec![rule(&["list"], &["pods"]), rule(&["get"], &["pods"])],
            ),
            role("beta", &[("b", "true")], vec![rule(&["watch"], &["pods"])]),
            role(
                "other",
                &[("c", "true")],
                vec![rule(&["delete"], &["pods"])],
            ),
        ];
        // Whatever order the cache lists them in.
        for roles in [roles.clone(), roles.into_iter().rev().collect()] {
            let rules = aggregate(&monitoring, &roles).unwrap().unwrap();
            assert_eq!(
                rules,
                [
                    rule(&["list"], &["pods"]),
                    rule(&["get"], &["pods"]),
                    rule(&["watch"], &["pods"]),
                ]
            );
        }
    }

    #[test]
    fn up_to_date_roles_and_plain_roles_need_no_write() {
        let source = role("source", &[("a", "true")], vec![rule(&["get"], &["pods"])]);
        let mut target = aggregating("target", vec![labelled("a")]);
        target.rules = Some(vec![rule(&["get"], &["pods"])]);
        assert_eq!(aggregate(&target, &[Arc::clone(&source)]).unwrap(), None);
        // An empty list and an absent one are the same.
        let empty = aggregating("empty", vec![labelled("nothing")]);
        assert_eq!(aggregate(&empty, &[Arc::clone(&source)]).unwrap(), None);
        // A role without an aggregation rule is not the controller's.
        assert_eq!(aggregate(&source, &[Arc::clone(&source)]).unwrap(), None);
        // A role that selects itself does not aggregate itself.
        let mut selfish = aggregating("selfish", vec![labelled("a")]);
        selfish.metadata.labels = Some(BTreeMap::from([("a".into(), "true".into())]));
        let all = vec![Arc::new(selfish.clone())];
        assert_eq!(aggregate(&selfish, &all).unwrap(), None);
    }

    #[test]
    fn rules_that_went_away_are_removed() {
        let mut target = aggregating("target", vec![labelled("a")]);
        target.rules = Some(vec![rule(&["get"], &["secrets"])]);
        assert_eq!(aggregate(&target, &[]).unwrap(), Some(vec![]));
    }

    #[test]
    fn a_bad_selector_is_an_error() {
        let bad = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "In".into(),
                values: None,
            }]),
            ..LabelSelector::default()
        };
        assert!(aggregate(&aggregating("t", vec![bad]), &[]).is_err());
    }

    /// The default policy's roles, as the API server makes them.
    fn defaults() -> Vec<Arc<ClusterRole>> {
        ordinal_apiserver::rbac_policy::cluster_roles()
            .into_iter()
            .map(|v| Arc::new(serde_json::from_value(v).unwrap()))
            .collect()
    }

    fn grants(rules: &[PolicyRule], verb: &str, group: &str, resource: &str) -> bool {
        let has = |v: &[String], x: &str| v.iter().any(|s| s == x || s == "*");
        rules.iter().any(|r| {
            has(&r.verbs, verb)
                && has(r.api_groups.as_deref().unwrap_or(&[]), group)
                && has(r.resources.as_deref().unwrap_or(&[]), resource)
        })
    }

    /// Aggregates the defaults until nothing changes, as the controller
    /// would (view feeds edit, which feeds admin).
    fn settled() -> Vec<Arc<ClusterRole>> {
        let mut roles = defaults();
        loop {
            let mut changed = false;
            for i in 0..roles.len() {
                if let Some(rules) = aggregate(&roles[i], &roles).unwrap() {
                    let mut r = (*roles[i]).clone();
                    r.rules = Some(rules);
                    roles[i] = Arc::new(r);
                    changed = true;
                }
            }
            if !changed {
                return roles;
            }
        }
    }

    #[test]
    fn the_default_view_edit_and_admin_roles_aggregate_as_upstreams() {
        let roles = settled();
        let rules = |name: &str| {
            roles
                .iter()
                .find(|r| r.metadata.name.as_deref() == Some(name))
                .and_then(|r| r.rules.clone())
                .unwrap_or_default()
        };
        let (view, edit, admin) = (rules("view"), rules("edit"), rules("admin"));
        assert!(grants(&view, "list", "apps", "statefulsets"));
        assert!(!grants(&view, "get", "", "secrets"));
        assert!(!grants(&view, "create", "apps", "statefulsets"));
        for verb in ["create", "update", "patch", "delete"] {
            assert!(grants(&edit, verb, "apps", "statefulsets"), "{verb}");
        }
        assert!(grants(&edit, "list", "apps", "statefulsets"));
        assert!(grants(&edit, "get", "", "secrets"));
        assert!(!grants(
            &edit,
            "create",
            "rbac.authorization.k8s.io",
            "rolebindings"
        ));
        assert!(grants(
            &admin,
            "create",
            "rbac.authorization.k8s.io",
            "rolebindings"
        ));
        assert!(grants(&admin, "delete", "apps", "statefulsets"));
    }

    #[tokio::test]
    async fn aggregated_roles_follow_the_roles_they_select() {
        use crate::testing::{ApiServer, eventually};
        use kube::api::{DeleteParams, PostParams};

        let running = ApiServer::start().await.run(run);
        let client = running.client.clone();
        let api: Api<ClusterRole> = Api::all(client.clone());

        // The default `view` fills from `system:aggregate-to-view`.
        let view = eventually("view aggregated", || async {
            let v = api.get("view").await.unwrap();
            v.rules.as_ref().is_some_and(|r| !r.is_empty()).then_some(v)
        })
        .await;
        assert!(grants(
            view.rules.as_deref().unwrap(),
            "watch",
            "apps",
            "statefulsets"
        ));

        // A role of the user's, labelled to aggregate to view, joins it.
        let mut crontabs = ClusterRole::default();
        crontabs.metadata.name = Some("crontab-reader".into());
        crontabs.metadata.labels = Some(BTreeMap::from([(
            "rbac.authorization.k8s.io/aggregate-to-view".into(),
            "true".into(),
        )]));
        crontabs.rules = Some(vec![PolicyRule {
            verbs: vec!["get".into()],
            api_groups: Some(vec!["stable.example.com".into()]),
            resources: Some(vec!["crontabs".into()]),
            ..PolicyRule::default()
        }]);
        api.create(&PostParams::default(), &crontabs).await.unwrap();
        let joined = eventually("crontabs in view", || async {
            let v = api.get("view").await.unwrap();
            grants(
                v.rules.as_deref().unwrap_or(&[]),
                "get",
                "stable.example.com",
                "crontabs",
            )
            .then_some(v)
        })
        .await;
        let manager = joined
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .any(|m| m.manager.as_deref() == Some(FIELD_MANAGER));
        assert!(manager, "{:?}", joined.metadata.managed_fields);
        // ... and through view, edit and admin.
        eventually("crontabs in admin", || async {
            let a = api.get("admin").await.unwrap();
            grants(
                a.rules.as_deref().unwrap_or(&[]),
                "get",
                "stable.example.com",
                "crontabs",
            )
            .then_some(())
        })
        .await;

        // Removed, it leaves.
        api.delete("crontab-reader", &DeleteParams::default())
            .await
            .unwrap();
        eventually("crontabs gone from view", || async {
            let v = api.get("view").await.unwrap();
            (!grants(
                v.rules.as_deref().unwrap_or(&[]),
                "get",
                "stable.example.com",
                "crontabs",
            ))
            .then_some(())
        })
        .await;

        running.stop().await;
    }
}
