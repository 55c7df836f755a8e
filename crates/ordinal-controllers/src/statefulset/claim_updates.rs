//! Existing claims following their volumeClaimTemplates after the set
//! changed them (ordinal's API server lets a template's storage request
//! grow and its labels and annotations change; upstream's refuses any
//! change).
//!
//! - Labels and annotations: every claim gets the template's keys it lacks
//!   or holds another value of (and the selector's matchLabels, as a new
//!   claim does). Keys the template does not name are left alone, so what a
//!   user put on a claim stays.
//! - Storage: a bound claim requesting less than its template is patched to
//!   the template's request, and the resizer of its class does the rest.
//!   One claim at a time, by ordinal (then template): none while any claim
//!   of the set is still growing, that is bound with `status.capacity`
//!   below its request. A claim not yet bound cannot be expanded (its
//!   request is immutable until then) and holds up no other; it is
//!   expanded once bound.
//!
//! A claim being deleted is left alone.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use ordinal_core::quantity::bytes;

use super::Action;
use super::claims::{ClaimIndex, claim_labels};
use super::spec::SetSpec;

/// The updates that bring the set's claims in line with their templates,
/// in ordinal order; at most one of them expands a claim.
pub(crate) fn plan(spec: &SetSpec<'_>, claims: &ClaimIndex<'_>) -> Vec<Action> {
    let all = claims.in_order();
    // Set once a claim is growing or planned to grow.
    let mut expanding = all.iter().any(|(_, claim)| is_growing(claim));
    let mut actions = Vec::new();
    for (template, claim) in all {
        if claim.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(template) = spec.claim_templates.get(template) else {
            continue;
        };
        let labels = differing(claim.metadata.labels.as_ref(), claim_labels(spec, template));
        let annotations = differing(
            claim.metadata.annotations.as_ref(),
            template.metadata.annotations.clone().unwrap_or_default(),
        );
        let expand_to = match storage_request(template) {
            Some(wanted) if !expanding && is_bound(claim) && grows(claim, wanted) => {
                expanding = true;
                Some(wanted.clone())
            }
            _ => None,
        };
        if labels.is_empty() && annotations.is_empty() && expand_to.is_none() {
            continue;
        }
        actions.push(Action::UpdateClaim {
            name: claim.metadata.name.clone().unwrap_or_default(),
            uid: claim.metadata.uid.clone().unwrap_or_default(),
            labels,
            annotations,
            expand_to,
        });
    }
    actions
}

/// The entries of `wanted` that `have` lacks or holds another value of.
fn differing(
    have: Option<&BTreeMap<String, String>>,
    mut wanted: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    wanted.retain(|k, v| have.and_then(|h| h.get(k)) != Some(v));
    wanted
}

fn storage_request(claim: &PersistentVolumeClaim) -> Option<&Quantity> {
    claim
        .spec
        .as_ref()?
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get("storage")
}

fn capacity(claim: &PersistentVolumeClaim) -> Option<&Quantity> {
    claim.status.as_ref()?.capacity.as_ref()?.get("storage")
}

fn is_bound(claim: &PersistentVolumeClaim) -> bool {
    claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")
}

/// `wanted` is more than the claim requests. Sizes that do not parse are
/// never grown to.
fn grows(claim: &PersistentVolumeClaim, wanted: &Quantity) -> bool {
    match (bytes(wanted), storage_request(claim).and_then(bytes)) {
        (Some(wanted), Some(requested)) => wanted > requested,
        _ => false,
    }
}

/// Bound, and asking for more than it has: its resize is under way (or
/// stuck, which the claim's own events tell).
pub(crate) fn is_growing(claim: &PersistentVolumeClaim) -> bool {
    if !is_bound(claim) || claim.metadata.deletion_timestamp.is_some() {
        return false;
    }
    match (
        storage_request(claim).and_then(bytes),
        capacity(claim).and_then(bytes),
    ) {
        (Some(requested), Some(has)) => requested > has,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use proptest::prelude::*;
    use serde_json::json;

    use super::super::{Action, Observed, plan};
    use super::is_growing;

    /// A set `web` with a `data` template of `size`, template labels and
    /// annotations, and a second template `logs` of 1Gi.
    fn set(size: &str, labels: serde_json::Value, annotations: serde_json::Value) -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "set-uid"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "serviceName": "web",
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}]}
                },
                "volumeClaimTemplates": [
                    {"metadata": {"name": "data", "labels": labels, "annotations": annotations},
                     "spec": {"resources": {"requests": {"storage": size}}}},
                    {"metadata": {"name": "logs"},
                     "spec": {"resources": {"requests": {"storage": "1Gi"}}}}
                ]
            }
        }))
        .unwrap()
    }

    /// A claim requesting `requested` with `capacity` (bound) or none
    /// (pending).
    fn claim(name: &str, requested: &str, capacity: Option<&str>) -> PersistentVolumeClaim {
        let status = match capacity {
            Some(c) => json!({"phase": "Bound", "capacity": {"storage": c}}),
            None => json!({"phase": "Pending"}),
        };
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                         "labels": {"app": "web"}},
            "spec": {"resources": {"requests": {"storage": requested}}},
            "status": status
        }))
        .unwrap()
    }

    /// The claim updates planned: `(name, expand_to, labels, annotations)`.
    type Update = (
        String,
        Option<String>,
        BTreeMap<String, String>,
        BTreeMap<String, String>,
    );

    fn updates(set: &StatefulSet, claims: &[PersistentVolumeClaim]) -> Vec<Update> {
        let planned = plan(&Observed {
            set,
            pods: vec![],
            claims: claims.iter().collect(),
            revisions: vec![],
            now: jiff::Timestamp::UNIX_EPOCH,
        });
        planned
            .claims
            .iter()
            .map(|a| match a {
                Action::UpdateClaim {
                    name,
                    expand_to,
                    labels,
                    annotations,
                    ..
                } => (
                    name.clone(),
                    expand_to.as_ref().map(|q| q.0.clone()),
                    labels.clone(),
                    annotations.clone(),
                ),
                other => panic!("not a claim update: {other:?}"),
            })
            .collect()
    }

    fn expansions(set: &StatefulSet, claims: &[PersistentVolumeClaim]) -> Vec<(String, String)> {
        updates(set, claims)
            .into_iter()
            .filter_map(|(name, to, _, _)| Some((name, to?)))
            .collect()
    }

    fn pair(k: &str, v: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(k.to_string(), v.to_string())])
    }

    #[test]
    fn claims_of_the_size_of_their_template_are_left_alone() {
        let set = set("1Gi", json!(null), json!(null));
        let claims = [
            claim("data-web-0", "1Gi", Some("1Gi")),
            claim("data-web-1", "1024Mi", Some("1Gi")),
            claim("logs-web-0", "1Gi", None),
        ];
        assert_eq!(updates(&set, &claims), []);
    }

    #[test]
    fn a_grown_template_expands_its_claims_one_at_a_time_in_ordinal_order() {
        let set = set("2Gi", json!(null), json!(null));
        let mut claims = vec![
            claim("data-web-2", "1Gi", Some("1Gi")),
            claim("data-web-0", "1Gi", Some("1Gi")),
            claim("data-web-1", "1Gi", Some("1Gi")),
        ];
        let order = ["data-web-0", "data-web-1", "data-web-2"];
        for (step, name) in order.iter().enumerate() {
            assert_eq!(
                expansions(&set, &claims),
                [(name.to_string(), "2Gi".to_string())],
                "step {step}"
            );
            // Patched: the claim now grows, and nothing else starts.
            let at = claims
                .iter()
                .position(|c| c.metadata.name.as_deref() == Some(name))
                .unwrap();
            claims[at] = claim(name, "2Gi", Some("1Gi"));
            assert!(is_growing(&claims[at]));
            assert_eq!(expansions(&set, &claims), [], "step {step}: waits");
            // The resizer finishes.
            claims[at] = claim(name, "2Gi", Some("2Gi"));
        }
        assert_eq!(updates(&set, &claims), []);
    }

    #[test]
    fn a_claim_not_yet_bound_holds_up_no_other_and_grows_once_bound() {
        let set = set("2Gi", json!(null), json!(null));
        let mut claims = vec![
            claim("data-web-0", "1Gi", None),
            claim("data-web-1", "1Gi", Some("1Gi")),
        ];
        assert_eq!(
            expansions(&set, &claims),
            [("data-web-1".to_string(), "2Gi".to_string())]
        );
        claims[1] = claim("data-web-1", "2Gi", Some("2Gi"));
        claims[0] = claim("data-web-0", "1Gi", Some("1Gi"));
        assert_eq!(
            expansions(&set, &claims),
            [("data-web-0".to_string(), "2Gi".to_string())]
        );
    }

    #[test]
    fn a_claim_growing_on_its_own_holds_up_the_set() {
        // A user grew data-web-2 by hand; its resize is still running.
        let set = set("2Gi", json!(null), json!(null));
        let claims = [
            claim("data-web-0", "1Gi", Some("1Gi")),
            claim("data-web-2", "5Gi", Some("1Gi")),
        ];
        assert_eq!(expansions(&set, &claims), []);
        // A claim bigger than its template is not shrunk.
        let claims = [
            claim("data-web-0", "2Gi", Some("2Gi")),
            claim("data-web-2", "5Gi", Some("5Gi")),
        ];
        assert_eq!(updates(&set, &claims), []);
    }

    #[test]
    fn a_claim_being_deleted_is_left_alone() {
        let set = set("2Gi", json!({"tier": "db"}), json!(null));
        let mut gone = claim("data-web-0", "1Gi", Some("1Gi"));
        gone.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
        let claims = [gone, claim("data-web-1", "1Gi", Some("1Gi"))];
        assert_eq!(
            expansions(&set, &claims),
            [("data-web-1".to_string(), "2Gi".to_string())]
        );
        assert!(
            updates(&set, &claims)
                .iter()
                .all(|(name, ..)| name == "data-web-1")
        );
    }

    #[test]
    fn template_labels_and_annotations_reach_every_claim_and_keep_the_users() {
        let set = set(
            "1Gi",
            json!({"tier": "db", "backup": "daily"}),
            json!({"note": "fast disks"}),
        );
        let mut user = claim("data-web-1", "1Gi", None);
        let labels = user.metadata.labels.get_or_insert_default();
        labels.insert("owner".into(), "team-a".into());
        labels.insert("tier".into(), "cache".into());
        labels.insert("backup".into(), "daily".into());
        user.metadata.annotations = Some(pair("note", "fast disks"));
        let claims = [
            claim("data-web-0", "1Gi", Some("1Gi")),
            user,
            claim("logs-web-0", "1Gi", Some("1Gi")),
        ];
        let mut both = pair("tier", "db");
        both.insert("backup".into(), "daily".into());
        assert_eq!(
            updates(&set, &claims),
            [
                (
                    "data-web-0".to_string(),
                    None,
                    both,
                    pair("note", "fast disks")
                ),
                // Only what differs; `owner` is the user's and stays.
                (
                    "data-web-1".to_string(),
                    None,
                    pair("tier", "db"),
                    BTreeMap::new()
                ),
            ]
        );
    }

    #[test]
    fn a_set_being_deleted_updates_no_claims() {
        let mut set = set("2Gi", json!({"tier": "db"}), json!(null));
        set.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
        assert_eq!(
            updates(&set, &[claim("data-web-0", "1Gi", Some("1Gi"))]),
            []
        );
    }

    /// One claim of the property test: its ordinal, template, whether it
    /// is bound, and its request and capacity in GiB.
    #[derive(Debug, Clone)]
    struct Start {
        ordinal: i64,
        logs: bool,
        bound: bool,
        requested: u32,
        has: u32,
    }

    fn start() -> impl Strategy<Value = Start> {
        (0..5i64, any::<bool>(), any::<bool>(), 1..4u32, 1..4u32).prop_map(
            |(ordinal, logs, bound, requested, has)| Start {
                ordinal,
                logs,
                bound,
                requested,
                has,
            },
        )
    }

    fn gib(n: u32) -> String {
        format!("{n}Gi")
    }

    fn name(s: &Start) -> String {
        let template = if s.logs { "logs" } else { "data" };
        format!("{template}-web-{}", s.ordinal)
    }

    fn requested(claim: &PersistentVolumeClaim) -> Quantity {
        claim
            .spec
            .as_ref()
            .unwrap()
            .resources
            .as_ref()
            .unwrap()
            .requests
            .as_ref()
            .unwrap()["storage"]
            .clone()
    }

    fn size(q: &Quantity) -> i128 {
        ordinal_core::quantity::bytes(q).unwrap()
    }

    proptest! {
        /// Whatever the claims look like, a sync expands at most one claim
        /// and none while another grows. Played out with a resizer that
        /// finishes and a binder that binds at random (then always), every
        /// claim ends at its template's size or its own larger one, and
        /// the claims bound from the start grew in ordinal order.
        #[test]
        fn never_more_than_one_claim_grows_and_all_reach_the_size(
            starts in proptest::collection::vec(start(), 0..8),
            target in 1..5u32,
            luck in proptest::collection::vec(any::<(bool, bool)>(), 32),
        ) {
            let set = set(&gib(target), json!(null), json!(null));
            let mut claims: BTreeMap<String, PersistentVolumeClaim> = BTreeMap::new();
            for s in &starts {
                let has = s.bound.then(|| gib(s.has.min(s.requested)));
                claims.insert(name(s), claim(&name(s), &gib(s.requested), has.as_deref()));
            }
            let bound_at_start: Vec<String> = claims
                .iter()
                .filter(|(_, c)| c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound"))
                .map(|(n, _)| n.clone())
                .collect();
            let mut expanded: Vec<String> = Vec::new();
            for round in 0..64 {
                let list: Vec<PersistentVolumeClaim> = claims.values().cloned().collect();
                let growing = list.iter().filter(|c| is_growing(c)).count();
                let planned = expansions(&set, &list);
                prop_assert!(planned.len() <= 1, "{planned:?}");
                prop_assert!(growing == 0 || planned.is_empty(), "{planned:?} while {growing} grow");
                for (name, to) in planned {
                    let c = claims.get_mut(&name).unwrap();
                    c.spec.as_mut().unwrap().resources.as_mut().unwrap()
                        .requests.as_mut().unwrap()
                        .insert("storage".into(), Quantity(to));
                    expanded.push(name);
                }
                let (finish, bind) = luck.get(round).copied().unwrap_or((true, true));
                for c in claims.values_mut() {
                    let request = requested(c);
                    let status = c.status.get_or_insert_default();
                    let bound = status.phase.as_deref() == Some("Bound");
                    if (bound && finish) || (!bound && bind) {
                        status.phase = Some("Bound".into());
                        status.capacity = Some([("storage".to_string(), request)].into());
                    }
                }
            }
            for (name, c) in &claims {
                let want = if name.starts_with("data") { target } else { 1 };
                prop_assert!(size(&requested(c)) >= size(&Quantity(gib(want))), "{name}");
            }
            let early: Vec<i64> = expanded
                .iter()
                .filter(|n| bound_at_start.contains(n))
                .map(|n| n.rsplit('-').next().unwrap().parse().unwrap())
                .collect();
            prop_assert!(early.windows(2).all(|w| w[0] <= w[1]), "{expanded:?}");
        }
    }
}
