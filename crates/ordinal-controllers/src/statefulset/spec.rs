//! The set's spec as the controller reads it: every optional field resolved
//! to the value the API server would have defaulted it to, so the rest of
//! the planner never has to ask "and what if this is absent?".

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use ordinal_core::set_policy::{Ordinals, PodUpdatePolicy, Policies, RolloutRecovery};

/// How pods are replaced when the template changes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Strategy<'a> {
    /// Only pods the user deletes are recreated at the new revision.
    OnDelete,
    /// `Recreate`: every outdated pod is deleted at once, and pods at the
    /// update revision are created only once no outdated pod is left.
    Recreate,
    /// The controller deletes outdated pods itself. `rolling` is the
    /// `rollingUpdate` block, which upstream treats differently when absent.
    RollingUpdate { rolling: Option<Rolling<'a>> },
}

/// The `rollingUpdate` block of a RollingUpdate strategy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rolling<'a> {
    /// Pods with an index (ordinal − start) below this keep the current revision.
    pub partition: i64,
    /// `None` selects the one-at-a-time update that waits at the first
    /// unavailable pod; `Some` counts unavailable pods against this budget.
    pub max_unavailable: Option<&'a IntOrString>,
}

/// Which claims the set and its pods own, per
/// `persistentVolumeClaimRetentionPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retention {
    /// `whenScaled: Delete`: a condemned pod owns its claims.
    pub delete_when_scaled: bool,
    /// `whenDeleted: Delete`: the set owns the claims of the pods in range.
    pub delete_when_deleted: bool,
}

impl Retention {
    pub(crate) fn retain_all(self) -> bool {
        !self.delete_when_scaled && !self.delete_when_deleted
    }
}

/// The set's identity and spec with defaults applied.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SetSpec<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub uid: &'a str,
    pub generation: i64,
    pub deleting: bool,
    /// Desired number of pods, never negative.
    pub replicas: i64,
    /// First ordinal (`spec.ordinals.start`), never negative.
    pub start: i64,
    /// `podManagementPolicy: Parallel`.
    pub parallel: bool,
    pub strategy: Strategy<'a>,
    pub min_ready_seconds: i64,
    /// Negative means the history is never truncated.
    pub history_limit: i64,
    pub retention: Retention,
    pub service_name: &'a str,
    pub selector: &'a LabelSelector,
    pub template: &'a PodTemplateSpec,
    pub claim_templates: &'a [PersistentVolumeClaim],
    /// `ordinal.dev/rollout-recovery`.
    pub recovery: RolloutRecovery,
    /// `ordinal.dev/pod-update-policy`.
    pub pod_update: PodUpdatePolicy,
    /// `ordinal.dev/reserved-ordinals`: kept empty; the set's pods take the
    /// first `replicas` ordinals from `start` that are not reserved.
    pub reserved: &'a Ordinals,
    /// `status.currentReplicas`, which decides the revision of a recreated
    /// pod when a RollingUpdate strategy has no `rollingUpdate` block.
    pub status_current_replicas: i64,
}

impl<'a> SetSpec<'a> {
    pub(crate) fn of(set: &'a StatefulSet, policies: &'a Policies) -> Self {
        static NO_SPEC: std::sync::OnceLock<k8s_openapi::api::apps::v1::StatefulSetSpec> =
            std::sync::OnceLock::new();
        let spec = match &set.spec {
            Some(spec) => spec,
            None => NO_SPEC.get_or_init(Default::default),
        };
        let meta = &set.metadata;
        let strategy = match &spec.update_strategy {
            Some(s) if s.type_.as_deref() == Some("OnDelete") => Strategy::OnDelete,
            Some(s) if s.type_.as_deref() == Some("Recreate") => Strategy::Recreate,
            Some(s) => Strategy::RollingUpdate {
                rolling: s.rolling_update.as_ref().map(|r| Rolling {
                    partition: i64::from(r.partition.unwrap_or(0).max(0)),
                    max_unavailable: r.max_unavailable.as_ref(),
                }),
            },
            // The API server defaults an absent strategy to RollingUpdate with
            // partition 0.
            None => Strategy::RollingUpdate {
                rolling: Some(Rolling {
                    partition: 0,
                    max_unavailable: None,
                }),
            },
        };
        let retention = match &spec.persistent_volume_claim_retention_policy {
            None => Retention {
                delete_when_scaled: false,
                delete_when_deleted: false,
            },
            Some(p) => {
                let parse = |v: &Option<String>| match v.as_deref() {
                    None | Some("Retain") => Some(false),
                    Some("Delete") => Some(true),
                    Some(_) => None,
                };
                match (parse(&p.when_scaled), parse(&p.when_deleted)) {
                    (Some(scaled), Some(deleted)) => Retention {
                        delete_when_scaled: scaled,
                        delete_when_deleted: deleted,
                    },
                    // Upstream treats any unknown value as Retain/Retain.
                    _ => Retention {
                        delete_when_scaled: false,
                        delete_when_deleted: false,
                    },
                }
            }
        };
        SetSpec {
            name: meta.name.as_deref().unwrap_or(""),
            namespace: meta.namespace.as_deref().unwrap_or(""),
            uid: meta.uid.as_deref().unwrap_or(""),
            generation: meta.generation.unwrap_or(0),
            deleting: meta.deletion_timestamp.is_some(),
            replicas: i64::from(spec.replicas.unwrap_or(1).max(0)),
            start: i64::from(
                spec.ordinals
                    .as_ref()
                    .and_then(|o| o.start)
                    .unwrap_or(0)
                    .max(0),
            ),
            parallel: spec.pod_management_policy.as_deref() == Some("Parallel"),
            strategy,
            min_ready_seconds: i64::from(spec.min_ready_seconds.unwrap_or(0).max(0)),
            history_limit: i64::from(spec.revision_history_limit.unwrap_or(10)),
            retention,
            service_name: spec.service_name.as_deref().unwrap_or(""),
            selector: &spec.selector,
            template: &spec.template,
            claim_templates: spec.volume_claim_templates.as_deref().unwrap_or(&[]),
            recovery: policies.rollout_recovery,
            pod_update: policies.pod_update,
            reserved: &policies.reserved,
            status_current_replicas: set
                .status
                .as_ref()
                .and_then(|s| s.current_replicas)
                .map_or(0, i64::from),
        }
    }

    /// The ordinals the set's pods should have, ascending: the first
    /// `replicas` from `start` that are not reserved.
    pub(crate) fn ordinals(&self) -> impl Iterator<Item = i64> + 'a {
        let replicas = usize::try_from(self.replicas).unwrap_or(usize::MAX);
        self.reserved.free_after(self.start).take(replicas)
    }

    /// The highest ordinal the set's pods should have; below `start` when
    /// replicas is 0.
    pub(crate) fn end(&self) -> i64 {
        let base = self.start + self.replicas - 1;
        let mut end = base;
        // Each reserved ordinal up to the end pushes the end one further;
        // this settles after at most one round per reserved range.
        loop {
            let next = base + self.reserved.count_between(self.start, end + 1);
            if next == end {
                return end;
            }
            end = next;
        }
    }

    /// Whether a pod at `ordinal` is one the set should have.
    pub(crate) fn in_range(&self, ordinal: i64) -> bool {
        ordinal >= self.start
            && !self.reserved.contains(ordinal)
            && ordinal - self.start - self.reserved.count_between(self.start, ordinal)
                < self.replicas
    }

    /// Whether a pod recreated at `ordinal` gets the current revision (true)
    /// or the update revision (false).
    pub(crate) fn keeps_current_revision(&self, ordinal: i64) -> bool {
        match self.strategy {
            Strategy::OnDelete | Strategy::Recreate => false,
            Strategy::RollingUpdate { rolling: None } => {
                ordinal < self.start + self.status_current_replicas
            }
            Strategy::RollingUpdate {
                rolling: Some(rolling),
            } => ordinal < self.start + rolling.partition,
        }
    }
}
