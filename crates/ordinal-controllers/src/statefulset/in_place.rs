//! In-place updates (`ordinal.dev/pod-update-policy: InPlaceIfPossible`,
//! as OpenKruise's): when the update revision differs from a pod's only in
//! container images and template metadata, the pod is updated where it
//! is — same pod, UID, IP and volumes — and the node restarts just the
//! containers whose image changed, as the kubelet does for any pod.
//!
//! A readiness gate keeps the pod out of Ready while that happens. Pods of
//! a set under this policy are created with the gate
//! [`GATE`] in `spec.readinessGates` (the gate can only be set at
//! creation), and the controller opens it (condition True) once the pod
//! exists. An in-place update then
//!
//! 1. closes the gate (condition False, reason [`UPDATING`]), so the pod
//!    stops being Ready before anything changes;
//! 2. patches the images, the template's labels and annotations and the
//!    revision label;
//! 3. once every container runs the image its spec names, opens the gate
//!    again, as OpenKruise does once the new containers are reported. The
//!    pod is Ready once its containers are too: the kubelet's Ready
//!    condition needs both, so the open write overlaps the containers'
//!    readiness probes instead of following them.
//!
//! The closed gate is the only record of an update under way: a gate
//! closed for another reason, or never set, is opened at once.
//!
//! A pod created without the gate, or at a revision other than the
//! current one, or a revision that changes anything else, is deleted and
//! created again, as upstream always does.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use ordinal_core::image_reference::Reference;
use ordinal_core::pod::{condition, is_terminating};
use serde_json::Value;

use super::Action;

/// The readiness gate's condition type.
pub const GATE: &str = "ordinal.dev/InPlaceUpdateReady";
/// The reason of the gate's condition while an update is under way.
pub const UPDATING: &str = "InPlaceUpdating";

/// The containers whose image differs between `from` and `to`, as
/// (name, new image), when nothing else of the pod spec differs; None when
/// something else does (the pod must be recreated).
pub(crate) fn image_changes(
    from: &PodTemplateSpec,
    to: &PodTemplateSpec,
) -> Option<Vec<(String, String)>> {
    let (a, b) = (from.spec.as_ref()?, to.spec.as_ref()?);
    if a.containers.len() != b.containers.len() {
        return None;
    }
    let mut changes = Vec::new();
    for (old, new) in a.containers.iter().zip(&b.containers) {
        if old.name != new.name {
            return None;
        }
        if old.image != new.image {
            changes.push((new.name.clone(), new.image.clone()?));
        }
    }
    // Compared as revisions encode them, so that a template read back from
    // a revision equals the one it was made from.
    let without_images = |template: &PodTemplateSpec| -> Option<Value> {
        let mut v = super::revision::canonical_template(template);
        let spec = v.get_mut("spec")?;
        for c in spec.get_mut("containers")?.as_array_mut()? {
            c.as_object_mut()?.remove("image");
        }
        Some(spec.take())
    };
    (without_images(from)? == without_images(to)?).then_some(changes)
}

/// Whether the pod was created with the gate.
pub(crate) fn has_gate(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_ref())
        .is_some_and(|gates| gates.iter().any(|g| g.condition_type == GATE))
}

/// Whether the pod's gate is closed for an update under way.
fn updating(pod: &Pod) -> bool {
    condition(pod, GATE)
        .is_some_and(|c| c.status != "True" && c.reason.as_deref() == Some(UPDATING))
}

/// Every container runs the image its spec names. Whether it is ready is
/// the Ready condition's business, which needs the gate and the
/// containers both.
fn caught_up(pod: &Pod) -> bool {
    let Some(spec) = &pod.spec else { return false };
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or(&[]);
    spec.containers.iter().all(|c| {
        statuses.iter().any(|s| {
            s.name == c.name
                && s.state.as_ref().is_some_and(|st| st.running.is_some())
                && same_image(c.image.as_deref().unwrap_or(""), &s.image)
        })
    })
}

fn same_image(a: &str, b: &str) -> bool {
    a == b || matches!((Reference::parse(a), Reference::parse(b)), (Ok(x), Ok(y)) if x == y)
}

/// What the gate of a pod that has one needs: opened after creation, or
/// after an in-place update has caught up; None while an update is under
/// way, or when it is open.
pub(crate) fn gate_action(pod: &Pod) -> Option<Action> {
    if !has_gate(pod) || is_terminating(pod) {
        return None;
    }
    let open = condition(pod, GATE).is_some_and(|c| c.status == "True");
    if open || (updating(pod) && !caught_up(pod)) {
        return None;
    }
    Some(Action::OpenGate {
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
    })
}

/// The in-place update of `pod` to `template` at `revision`, if the
/// images are all that changed and the pod can be gated.
pub(crate) fn update(
    pod: &Pod,
    from: &PodTemplateSpec,
    to: &PodTemplateSpec,
    revision: &str,
) -> Option<Action> {
    if !has_gate(pod) {
        return None;
    }
    let images = image_changes(from, to)?;
    let meta = to.metadata.as_ref();
    let mut labels: BTreeMap<String, String> =
        meta.and_then(|m| m.labels.clone()).unwrap_or_default();
    labels.insert(super::REVISION_LABEL.into(), revision.into());
    let annotations: BTreeMap<String, String> =
        meta.and_then(|m| m.annotations.clone()).unwrap_or_default();
    Some(Action::UpdatePodInPlace {
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        images,
        labels,
        annotations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(image: &str, extra: Value) -> PodTemplateSpec {
        let mut t = json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": image}, {"name": "side", "image": "side:1"}]}
        });
        if let (Some(spec), Some(extra)) = (t["spec"].as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        serde_json::from_value(t).unwrap()
    }

    fn pod(gated: bool, status: Value, annotations: Value) -> Pod {
        // Annotations do not matter to the gate; they are kept to show it.
        serde_json::from_value(json!({
            "metadata": {"name": "web-0", "uid": "u0", "annotations": annotations},
            "spec": {
                "containers": [{"name": "app", "image": "busybox:1.37"}],
                "readinessGates": if gated { json!([{"conditionType": GATE}]) } else { json!([]) }
            },
            "status": status
        }))
        .unwrap()
    }

    #[test]
    fn only_image_changes_are_done_in_place() {
        let from = template("app:1", json!({}));
        assert_eq!(
            image_changes(&from, &template("app:2", json!({}))),
            Some(vec![("app".to_string(), "app:2".to_string())])
        );
        assert_eq!(
            image_changes(&from, &template("app:1", json!({}))),
            Some(vec![])
        );
        assert_eq!(
            image_changes(
                &from,
                &template("app:2", json!({"terminationGracePeriodSeconds": 5}))
            ),
            None
        );
        let mut renamed = template("app:2", json!({}));
        renamed.spec.as_mut().unwrap().containers[1].name = "other".into();
        assert_eq!(image_changes(&from, &renamed), None);
        let mut labelled = template("app:2", json!({}));
        labelled
            .metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .insert("tier".into(), "db".into());
        assert!(
            image_changes(&from, &labelled).is_some(),
            "metadata may change"
        );
    }

    #[test]
    fn a_pod_without_the_gate_is_recreated_instead() {
        let (from, to) = (template("app:1", json!({})), template("app:2", json!({})));
        assert!(update(&pod(false, json!({}), json!({})), &from, &to, "web-2").is_none());
        match update(&pod(true, json!({}), json!({})), &from, &to, "web-2") {
            Some(Action::UpdatePodInPlace {
                images,
                labels,
                annotations,
                ..
            }) => {
                assert_eq!(images, [("app".to_string(), "app:2".to_string())]);
                assert_eq!(labels[super::super::REVISION_LABEL], "web-2");
                assert!(annotations.is_empty(), "{annotations:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_gate_opens_after_creation_and_once_the_new_containers_run() {
        let created = pod(true, json!({"phase": "Pending"}), json!({}));
        assert!(matches!(
            gate_action(&created),
            Some(Action::OpenGate { .. })
        ));
        let open = pod(
            true,
            json!({"conditions": [{"type": GATE, "status": "True"}]}),
            json!({}),
        );
        assert_eq!(gate_action(&open), None);
        let running = |image: &str, ready: bool, reason: &str| {
            json!({"phase": "Running", "conditions": [{"type": GATE, "status": "False", "reason": reason}],
                "containerStatuses": [{"name": "app", "image": image, "imageID": "", "ready": ready,
                    "restartCount": 1, "state": {"running": {}}}]})
        };
        let updating =
            |image: &str, ready: bool| pod(true, running(image, ready, UPDATING), json!({}));
        assert_eq!(
            gate_action(&updating("busybox:1.36", true)),
            None,
            "old image"
        );
        // Running the new image is enough: readiness is the Ready
        // condition's, which also needs the gate.
        for ready in [false, true] {
            assert!(matches!(
                gate_action(&updating("docker.io/library/busybox:1.37", ready)),
                Some(Action::OpenGate { .. })
            ));
        }
        let waiting = json!({"phase": "Running", "conditions": [{"type": GATE, "status": "False", "reason": UPDATING}],
            "containerStatuses": [{"name": "app", "image": "busybox:1.37", "imageID": "", "ready": false,
                "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]});
        assert_eq!(
            gate_action(&pod(true, waiting, json!({}))),
            None,
            "not running"
        );
        // Closed for any other reason (by someone else, say): opened.
        let other = pod(true, running("busybox:1.36", false, "Other"), json!({}));
        assert!(matches!(gate_action(&other), Some(Action::OpenGate { .. })));
        assert_eq!(gate_action(&pod(false, json!({}), json!({}))), None);
    }
}
