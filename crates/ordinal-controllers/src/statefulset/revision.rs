//! ControllerRevisions: the set's template history, as upstream records it.
//!
//! A revision's data is a strategic-merge patch that puts a template back,
//! `{"spec":{"template":{…,"$patch":"replace"}}}`, serialised as Go
//! serialises it. Its name is `<set>-<hash>`, the hash being FNV-1 (32 bit)
//! over those bytes followed by the decimal collisionCount, printed in
//! decimal and then mapped through Kubernetes' "safe" alphabet, so ordinal
//! names revisions exactly as kube-controller-manager does (`web-7b6f8c9d4d`).
//!
//! Each sync: if the newest revision holds the set's template, it is the
//! update revision; if an older one does, its `revision` number is bumped
//! to newest+1 (a rollback reuses the old name); otherwise a new revision is
//! created. Templates are compared by meaning, not bytes, so a revision
//! written by Kubernetes 1.33 (`"creationTimestamp":null`) still matches.
//! After the sync, revisions that are neither current, update, nor used by
//! a pod are deleted oldest first down to `revisionHistoryLimit`.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use serde_json::{Map, Value};

use super::identity::controller_ref;
use super::spec::SetSpec;
use super::{Action, Failure};
use ordinal_core::go_text::GoJson;

/// Label carrying a revision's hash.
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// Kubernetes' alphabet for generated name suffixes, without vowels so that
/// no words appear.
const SAFE_ALPHABET: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";

/// How many name collisions one sync resolves before giving up.
const MAX_COLLISIONS: i32 = 1000;

/// The revision data for a template, in the shape Go produces: the template
/// with `metadata` always present, every container's `resources` present
/// (Go always writes those struct fields), and `"$patch":"replace"`.
pub fn revision_data(template: &PodTemplateSpec) -> Value {
    let mut template = canonical_template(template);
    if let Value::Object(t) = &mut template {
        t.insert("$patch".into(), Value::String("replace".into()));
    }
    let mut spec = Map::new();
    spec.insert("template".into(), template);
    let mut data = Map::new();
    data.insert("spec".into(), Value::Object(spec));
    Value::Object(data)
}

/// The template as a revision holds it (Go's encoding of the API type).
pub(crate) fn canonical_template(template: &PodTemplateSpec) -> Value {
    let mut value = serde_json::to_value(template).unwrap_or_else(|_| Value::Object(Map::new()));
    let Value::Object(t) = &mut value else {
        return value;
    };
    t.entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(Value::Object(spec)) = t.get_mut("spec") {
        for key in ["initContainers", "containers", "ephemeralContainers"] {
            if let Some(Value::Array(containers)) = spec.get_mut(key) {
                for c in containers.iter_mut().filter_map(Value::as_object_mut) {
                    c.entry("resources")
                        .or_insert_with(|| Value::Object(Map::new()));
                }
            }
        }
        if let Some(Value::Array(volumes)) = spec.get_mut("volumes") {
            for claim in volumes.iter_mut().filter_map(|v| {
                v.get_mut("ephemeral")?
                    .get_mut("volumeClaimTemplate")?
                    .as_object_mut()
            }) {
                claim
                    .entry("metadata")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(Value::Object(claim_spec)) = claim.get_mut("spec") {
                    claim_spec
                        .entry("resources")
                        .or_insert_with(|| Value::Object(Map::new()));
                }
            }
        }
    }
    value
}

/// FNV-1, 32 bit (Go's `hash/fnv.New32`).
fn fnv1_32(bytes: impl IntoIterator<Item = u8>) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in bytes {
        hash = hash.wrapping_mul(0x0100_0193);
        hash ^= u32::from(b);
    }
    hash
}

/// The hash part of a revision name for `data` (Go-serialised revision data
/// bytes) and a collision count.
pub fn revision_hash(data: &str, collision_count: i32) -> String {
    let count = collision_count.to_string();
    let hash = fnv1_32(data.bytes().chain(count.bytes()));
    hash.to_string()
        .bytes()
        .map(|b| char::from(SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()]))
        .collect()
}

/// `<set>-<hash>`, the set name cut to 223 bytes so the name fits in 253.
pub fn revision_name(set: &str, hash: &str) -> String {
    let mut cut = set.len().min(223);
    while !set.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}-{hash}", &set[..cut])
}

/// The template a revision restores.
pub(crate) fn template_of(revision: &ControllerRevision) -> Result<PodTemplateSpec, Failure> {
    let name = revision.metadata.name.clone().unwrap_or_default();
    let corrupt = |reason: String| Failure::CorruptRevision {
        name: name.clone(),
        reason,
    };
    let template = revision
        .data
        .as_ref()
        .and_then(|d| d.0.get("spec"))
        .and_then(|s| s.get("template"))
        .ok_or_else(|| corrupt("data has no spec.template".into()))?;
    let mut template = template.clone();
    if let Value::Object(t) = &mut template {
        t.remove("$patch");
    }
    serde_json::from_value(template).map_err(|e| corrupt(e.to_string()))
}

/// Whether `revision` restores the template whose revision data is `needle`.
fn restores(revision: &ControllerRevision, needle: &Value) -> bool {
    match &revision.data {
        Some(data) if data.0 == *needle => true,
        Some(_) => template_of(revision).is_ok_and(|t| revision_data(&t) == *needle),
        None => false,
    }
}

/// Upstream's history order: by `revision`, then creation time, then name.
pub(crate) fn sort(revisions: &mut [&ControllerRevision]) {
    revisions.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| {
                let at =
                    |r: &ControllerRevision| r.metadata.creation_timestamp.as_ref().map(|t| t.0);
                match (at(a), at(b)) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                }
            })
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
}

/// The current and update revisions of a sync.
pub(crate) struct Chosen<'a> {
    pub update_name: String,
    pub current_name: String,
    /// The current revision, when it differs from the update revision (its
    /// template is needed to recreate pods below the partition).
    pub current: Option<&'a ControllerRevision>,
    pub collision_count: i32,
    /// Creating the update revision, or bumping an old one for a rollback.
    pub action: Option<Action>,
}

/// Picks the update revision (creating or reusing one) and the current one.
/// `history` is the set's revisions in [`sort`] order; `all` is every
/// revision observed, used to detect name collisions.
pub(crate) fn choose<'a>(
    spec: &SetSpec<'_>,
    set: &StatefulSet,
    history: &[&'a ControllerRevision],
    all: &[&'a ControllerRevision],
) -> Result<Chosen<'a>, Failure> {
    let status = set.status.as_ref();
    let mut collision_count = status.and_then(|s| s.collision_count).unwrap_or(0);
    let needle = revision_data(spec.template);
    let next = history
        .last()
        .map_or(1, |newest| newest.revision.saturating_add(1));
    let name_of = |r: &ControllerRevision| r.metadata.name.clone().unwrap_or_default();

    let (update_name, action) = match history.last() {
        Some(newest) if restores(newest, &needle) => (name_of(newest), None),
        _ => match history.iter().rev().find(|r| restores(r, &needle)) {
            Some(older) => (
                name_of(older),
                Some(Action::UpdateRevision {
                    name: name_of(older),
                    uid: older.metadata.uid.clone().unwrap_or_default(),
                    revision: next,
                }),
            ),
            None => {
                let text = GoJson::EncodingJson.encode(&needle);
                let mut attempts = 0;
                loop {
                    let hash = revision_hash(&text, collision_count);
                    let name = revision_name(spec.name, &hash);
                    match all
                        .iter()
                        .find(|r| r.metadata.name.as_deref() == Some(name.as_str()))
                    {
                        None => {
                            let revision = new_revision(spec, set, &name, &hash, needle, next);
                            break (name, Some(Action::CreateRevision(revision)));
                        }
                        // Created by an earlier sync whose status write was lost.
                        Some(existing) if restores(existing, &needle) => break (name, None),
                        Some(_) => {
                            attempts += 1;
                            collision_count = match collision_count.checked_add(1) {
                                Some(c) if attempts < MAX_COLLISIONS => c,
                                _ => return Err(Failure::RevisionNameCollisions(name)),
                            };
                        }
                    }
                }
            }
        },
    };

    let wanted_current = status.and_then(|s| s.current_revision.as_deref());
    let current = history
        .iter()
        .find(|r| {
            r.metadata
                .name
                .as_deref()
                .is_some_and(|n| Some(n) == wanted_current)
        })
        .copied();
    let (current_name, current) = match current {
        Some(r) if r.metadata.name.as_deref() != Some(update_name.as_str()) => {
            (name_of(r), Some(r))
        }
        _ => (update_name.clone(), None),
    };
    Ok(Chosen {
        update_name,
        current_name,
        current,
        collision_count,
        action,
    })
}

fn new_revision(
    spec: &SetSpec<'_>,
    set: &StatefulSet,
    name: &str,
    hash: &str,
    data: Value,
    revision: i64,
) -> ControllerRevision {
    let mut labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(HASH_LABEL.into(), hash.into());
    let annotations = set.metadata.annotations.clone().filter(|a| !a.is_empty());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(spec.namespace.into()),
            labels: Some(labels),
            annotations,
            owner_references: Some(vec![controller_ref(spec)]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(data)),
        revision,
    }
}

/// Deletions that bring the non-live history down to the limit, oldest
/// first. `live` holds the current and update revisions and every
/// revision a pod still runs.
pub(crate) fn truncate(
    spec: &SetSpec<'_>,
    history: &[&ControllerRevision],
    live: &[&str],
) -> Vec<Action> {
    if spec.history_limit < 0 {
        return Vec::new();
    }
    let old: Vec<&&ControllerRevision> = history
        .iter()
        .filter(|r| !live.contains(&r.metadata.name.as_deref().unwrap_or("")))
        .collect();
    let excess = old
        .len()
        .saturating_sub(usize::try_from(spec.history_limit).unwrap_or(usize::MAX));
    old.into_iter()
        .take(excess)
        .map(|r| Action::DeleteRevision {
            name: r.metadata.name.clone().unwrap_or_default(),
            uid: r.metadata.uid.clone().unwrap_or_default(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The revision data kube-controller-manager 1.34 stored for the
    /// upstream compatibility test's set (testdata/compatibility_revision_1.34.0.json).
    const DATA_1_34: &str = r#"{"spec":{"template":{"$patch":"replace","metadata":{"annotations":{"test":"value"},"labels":{"app":"foo"}},"spec":{"containers":[{"image":"test","imagePullPolicy":"Always","name":"test","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}}}}"#;
    /// The same template as 1.33 stored it (compatibility_revision_1.33.0.json).
    const DATA_1_33: &str = r#"{"spec":{"template":{"$patch":"replace","metadata":{"annotations":{"test":"value"},"creationTimestamp":null,"labels":{"app":"foo"}},"spec":{"containers":[{"image":"test","imagePullPolicy":"Always","name":"test","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}}}}"#;

    fn upstream_template() -> PodTemplateSpec {
        serde_json::from_value(serde_json::json!({
            "metadata": {"annotations": {"test": "value"}, "labels": {"app": "foo"}},
            "spec": {
                "containers": [{"image": "test", "imagePullPolicy": "Always", "name": "test",
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"}],
                "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                "schedulerName": "default-scheduler", "securityContext": {},
                "terminationGracePeriodSeconds": 30
            }
        }))
        .unwrap()
    }

    #[test]
    fn hashes_match_the_names_a_real_cluster_gave() {
        // Names taken from the upstream compatibility test data.
        assert_eq!(revision_hash(DATA_1_33, 0), "c77f6d978");
        assert_eq!(revision_hash(DATA_1_34, 0), "776999688b");
        assert_eq!(revision_name("test", "776999688b"), "test-776999688b");
    }

    #[test]
    fn our_data_is_byte_for_byte_what_kubernetes_writes() {
        let data = GoJson::EncodingJson.encode(&revision_data(&upstream_template()));
        assert_eq!(data, DATA_1_34);
        assert_eq!(revision_hash(&data, 0), "776999688b");
    }

    #[test]
    fn collision_count_changes_the_name() {
        assert_ne!(revision_hash(DATA_1_34, 0), revision_hash(DATA_1_34, 1));
    }

    #[test]
    fn revisions_from_1_33_restore_the_same_template() {
        let old = ControllerRevision {
            data: Some(RawExtension(serde_json::from_str(DATA_1_33).unwrap())),
            ..ControllerRevision::default()
        };
        let needle = revision_data(&upstream_template());
        assert!(restores(&old, &needle));
        let mut changed = upstream_template();
        changed.spec.as_mut().unwrap().containers[0].image = Some("other".into());
        assert!(!restores(&old, &revision_data(&changed)));
        let restored = template_of(&old).unwrap();
        assert_eq!(revision_data(&restored), needle);
    }

    #[test]
    fn corrupt_data_is_reported_not_panicked_on() {
        let bad = ControllerRevision {
            metadata: ObjectMeta {
                name: Some("web-x".into()),
                ..ObjectMeta::default()
            },
            data: Some(RawExtension(serde_json::json!({"spec": {"template": 3}}))),
            revision: 1,
        };
        assert!(matches!(
            template_of(&bad),
            Err(Failure::CorruptRevision { .. })
        ));
        let empty = ControllerRevision::default();
        assert!(template_of(&empty).is_err());
    }
}
