//! Property tests: random sets, random event sequences (pods becoming
//! ready, failing, being deleted; API calls failing; the user scaling,
//! changing the template, the partition or the start ordinal), checking
//! after every sync that
//!
//! - no plan creates a pod whose name (ordinal) is still taken, so two live
//!   pods never share an ordinal;
//! - under OrderedReady, pod N+1 is created only when every pod before it is
//!   Running and Ready, and scale-down deletes the highest condemned ordinal
//!   first, one at a time, and only while every pod in range is healthy;
//! - deletions name the right pod (UID) and never a pod already terminating;
//! - with `whenScaled: Retain`, claims never get a pod as owner and are never
//!   collected;
//! - reserved ordinals are never created and never count as in range;
//! - rollout recovery deletes only pods that are neither Running and Ready
//!   nor at the update revision, and never under `Manual`;
//! - in-place updates leave no gate closed once settled;
//! - with maxUnavailable, the pods a rolling update makes unavailable, with
//!   those already unavailable at the update revision or missing, never
//!   exceed the budget;
//!
//! and that once the events stop, the cluster converges to the spec.

use k8s_openapi::api::apps::v1::{RollingUpdateStatefulSetStrategy, StatefulSetUpdateStrategy};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use ordinal_core::pod::{is_available, is_running_and_ready, is_terminating};
use ordinal_core::set_policy::{Ordinals, POD_UPDATE_POLICY, RESERVED_ORDINALS, ROLLOUT_RECOVERY};
use proptest::prelude::*;

use super::super::{Action, DeleteReason, Plan, ordinal_of, revision_data};
use super::sim::{Policy, RETENTIONS, SET_UID, World, new_set};

#[derive(Debug, Clone)]
enum Updates {
    Rolling {
        partition: i32,
        max_unavailable: Option<IntOrString>,
    },
    RollingWithoutBlock,
    OnDelete,
    Recreate,
}

/// Values of `ordinal.dev/reserved-ordinals` the tests use.
const RESERVATIONS: [Option<&str>; 3] = [None, Some("1"), Some("0,2-3")];

#[derive(Debug, Clone)]
struct Config {
    policy: Policy,
    replicas: i32,
    start: Option<i32>,
    strategy: Updates,
    retention: usize,
    min_ready_seconds: i32,
    history_limit: Option<i32>,
    /// `ordinal.dev/rollout-recovery: Manual`.
    manual_recovery: bool,
    /// `ordinal.dev/pod-update-policy: InPlaceIfPossible`.
    in_place: bool,
}

#[derive(Debug, Clone)]
enum Event {
    /// Plan and execute; bit i of the mask fails the i-th call.
    Sync(u32),
    Run(usize),
    Ready(usize),
    ReadyAll,
    Unready(usize),
    Fail(usize),
    Succeed(usize),
    Delete(usize),
    FinishTerminating,
    CollectGarbage,
    Advance(i64),
    Scale(i32),
    Image(u8),
    Partition(i32),
    Start(Option<i32>),
    Reserve(usize),
}

fn config() -> impl Strategy<Value = Config> {
    let strategy = prop_oneof![
        3 => (0..4i32, prop_oneof![
            Just(None),
            (1..3i32).prop_map(|n| Some(IntOrString::Int(n))),
            Just(Some(IntOrString::String("50%".into()))),
        ])
            .prop_map(|(partition, max_unavailable)| Updates::Rolling { partition, max_unavailable }),
        1 => Just(Updates::RollingWithoutBlock),
        1 => Just(Updates::OnDelete),
        1 => Just(Updates::Recreate),
    ];
    (
        prop_oneof![Just(Policy::OrderedReady), Just(Policy::Parallel)],
        0..6i32,
        prop_oneof![Just(None), (0..4i32).prop_map(Some)],
        strategy,
        0..RETENTIONS.len(),
        prop_oneof![Just(0), Just(10)],
        prop_oneof![Just(None), Just(Some(0)), Just(Some(1)), Just(Some(-1))],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                policy,
                replicas,
                start,
                strategy,
                retention,
                min_ready_seconds,
                history_limit,
                manual_recovery,
                in_place,
            )| {
                Config {
                    policy,
                    replicas,
                    start,
                    strategy,
                    retention,
                    min_ready_seconds,
                    history_limit,
                    manual_recovery,
                    in_place,
                }
            },
        )
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        6 => prop_oneof![3 => Just(0u32), 1 => any::<u32>()].prop_map(Event::Sync),
        1 => any::<usize>().prop_map(Event::Run),
        4 => any::<usize>().prop_map(Event::Ready),
        2 => Just(Event::ReadyAll),
        1 => any::<usize>().prop_map(Event::Unready),
        1 => any::<usize>().prop_map(Event::Fail),
        1 => any::<usize>().prop_map(Event::Succeed),
        1 => any::<usize>().prop_map(Event::Delete),
        2 => Just(Event::FinishTerminating),
        1 => Just(Event::CollectGarbage),
        1 => (1..20i64).prop_map(Event::Advance),
        1 => (0..6i32).prop_map(Event::Scale),
        2 => (1..4u8).prop_map(Event::Image),
        1 => (0..5i32).prop_map(Event::Partition),
        1 => prop_oneof![Just(None), (0..4i32).prop_map(Some)].prop_map(Event::Start),
        1 => (0..RESERVATIONS.len()).prop_map(Event::Reserve),
    ]
}

fn build(config: &Config) -> World {
    let mut w = World::new(new_set("web", config.replicas, config.policy));
    let (scaled, deleted) = RETENTIONS[config.retention];
    w.set_retention(scaled, deleted);
    w.set_start(config.start);
    let strategy = config.strategy.clone();
    let min_ready = config.min_ready_seconds;
    let history_limit = config.history_limit;
    if config.manual_recovery {
        w.annotate(ROLLOUT_RECOVERY, Some("Manual"));
    }
    if config.in_place {
        w.annotate(POD_UPDATE_POLICY, Some("InPlaceIfPossible"));
    }
    w.edit(|s| {
        s.min_ready_seconds = Some(min_ready);
        s.revision_history_limit = history_limit;
        s.update_strategy = Some(match strategy {
            Updates::Rolling {
                partition,
                max_unavailable,
            } => StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateStatefulSetStrategy {
                    partition: Some(partition),
                    max_unavailable,
                }),
            },
            Updates::RollingWithoutBlock => StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: None,
            },
            Updates::OnDelete => StatefulSetUpdateStrategy {
                type_: Some("OnDelete".into()),
                rolling_update: None,
            },
            Updates::Recreate => StatefulSetUpdateStrategy {
                type_: Some("Recreate".into()),
                rolling_update: None,
            },
        });
    });
    w
}

fn pick(w: &World, index: usize) -> Option<String> {
    let names = w.pod_names();
    (!names.is_empty()).then(|| names[index % names.len()].clone())
}

/// The ordinals in range: the first `replicas` from the start that are
/// not reserved, computed here from the spec and annotation alone.
fn range(w: &World) -> Vec<i64> {
    let spec = w.set.spec.as_ref().expect("spec");
    let start = i64::from(spec.ordinals.as_ref().and_then(|o| o.start).unwrap_or(0));
    let reserved = w
        .set
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(RESERVED_ORDINALS))
        .map(|v| Ordinals::parse(v).expect("valid reservation"))
        .unwrap_or_default();
    let replicas = i64::from(spec.replicas.unwrap_or(1));
    let mut wanted = Vec::new();
    let mut o = start;
    while (wanted.len() as i64) < replicas {
        if !reserved.contains(o) {
            wanted.push(o);
        }
        o += 1;
    }
    wanted
}

/// maxUnavailable of a rolling update with the field set, resolved.
fn budget(w: &World, replicas: i64) -> Option<i64> {
    let spec = w.set.spec.as_ref()?;
    let strategy = spec.update_strategy.as_ref()?;
    if strategy.type_.as_deref() != Some("RollingUpdate") {
        return None;
    }
    Some(
        match strategy.rolling_update.as_ref()?.max_unavailable.as_ref()? {
            IntOrString::Int(n) => i64::from(*n).max(1),
            IntOrString::String(p) => {
                let percent: i64 = p.trim_end_matches('%').parse().ok()?;
                (percent * replicas / 100).max(1)
            }
        },
    )
}

fn ordinal(name: &str) -> i64 {
    ordinal_of("web", name).expect("the set's pods")
}

/// Invariants a plan must satisfy against the world it was made from.
fn check_plan(w: &World, plan: &Plan, config: &Config) -> Result<(), String> {
    let policy = config.policy;
    let wanted = range(w);
    let in_range = |o: i64| wanted.binary_search(&o).is_ok();
    let update = plan
        .status
        .as_ref()
        .and_then(|s| s.update_revision.clone())
        .unwrap_or_else(|| w.update_revision());
    let min_ready = i64::from(config.min_ready_seconds);
    let mut creations = 0;
    let mut scale_downs = 0;
    let mut made_unavailable = 0;
    for action in plan.actions() {
        match action {
            Action::CreatePod { pod, .. } => {
                creations += 1;
                let name = pod.metadata.name.clone().unwrap_or_default();
                if w.pods.contains_key(&name) {
                    return Err(format!("creates {name}, which still exists"));
                }
                if !in_range(ordinal(&name)) {
                    return Err(format!("creates {name}, which is not in range"));
                }
                if policy == Policy::OrderedReady {
                    for &before in wanted.iter().take_while(|&&o| o < ordinal(&name)) {
                        let ok = w
                            .pods
                            .get(&format!("web-{before}"))
                            .is_some_and(|p| is_running_and_ready(p) && !is_terminating(p));
                        if !ok {
                            return Err(format!(
                                "creates {name} while web-{before} is not Running and Ready"
                            ));
                        }
                    }
                }
            }
            Action::UpdatePodInPlace { name, uid, .. } => {
                let pod = w.pods.get(name).ok_or(format!("updates missing {name}"))?;
                if pod.metadata.uid.as_deref() != Some(uid.as_str()) || is_terminating(pod) {
                    return Err(format!("updates {name} in place: wrong uid or terminating"));
                }
                if is_available(pod, min_ready, w.now) {
                    made_unavailable += 1;
                }
            }
            Action::DeletePod { name, uid, reason } => {
                let pod = w.pods.get(name).ok_or(format!("deletes missing {name}"))?;
                if pod.metadata.uid.as_deref() != Some(uid.as_str()) {
                    return Err(format!("deletes {name} with the wrong uid"));
                }
                if is_terminating(pod) {
                    return Err(format!("deletes {name} again"));
                }
                if *reason == DeleteReason::Recovery {
                    if config.manual_recovery {
                        return Err(format!("recovers {name} under Manual"));
                    }
                    if is_running_and_ready(pod) || w.revision_of(name) == update {
                        return Err(format!(
                            "recovers {name}, which is Ready or at the update revision"
                        ));
                    }
                }
                if *reason == DeleteReason::Update
                    && is_available(pod, min_ready, w.now)
                    && !matches!(config.strategy, Updates::Recreate)
                {
                    made_unavailable += 1;
                }
                if *reason == DeleteReason::ScaleDown {
                    scale_downs += 1;
                    let k = ordinal(name);
                    if in_range(k) {
                        return Err(format!("scales down {name}, which is in range"));
                    }
                    if policy == Policy::OrderedReady
                        && let Some(sick) = w.pods.iter().find(|(n, p)| {
                            in_range(ordinal(n)) && (!is_running_and_ready(p) || is_terminating(p))
                        })
                    {
                        return Err(format!("scales down {name} while {} is unhealthy", sick.0));
                    }
                    if policy == Policy::OrderedReady
                        && let Some(higher) = w
                            .pods
                            .keys()
                            .map(|n| ordinal(n))
                            .find(|&o| o > k && !in_range(o))
                    {
                        return Err(format!("deletes {name} before web-{higher}"));
                    }
                }
            }
            _ => {}
        }
    }
    if policy == Policy::OrderedReady && creations > 1 {
        return Err(format!("creates {creations} pods in one sync"));
    }
    if policy == Policy::OrderedReady && scale_downs > 1 {
        return Err(format!("deletes {scale_downs} condemned pods in one sync"));
    }
    let replicas = wanted.len() as i64;
    if made_unavailable > 0
        && let Some(max) = budget(w, replicas)
    {
        let already = wanted
            .iter()
            .filter(|&&o| {
                w.pods.get(&format!("web-{o}")).is_none_or(|p| {
                    w.revision_of(&format!("web-{o}")) == update
                        && !is_available(p, min_ready, w.now)
                })
            })
            .count() as i64;
        if made_unavailable + already > max {
            return Err(format!(
                "makes {made_unavailable} pods unavailable with {already} already so, over maxUnavailable {max}"
            ));
        }
    }
    Ok(())
}

/// Retain invariants that must hold at every moment.
fn check_claims(w: &World, config: &Config, claims_before: usize) -> Result<(), String> {
    let (scaled, deleted) = RETENTIONS[config.retention];
    if scaled == "Retain" {
        if w.claims.len() < claims_before {
            return Err("a claim was collected under whenScaled=Retain".into());
        }
        for (name, claim) in &w.claims {
            for r in claim.metadata.owner_references.iter().flatten() {
                if r.kind == "Pod" {
                    return Err(format!("{name} is owned by a pod under whenScaled=Retain"));
                }
                if deleted == "Retain" && r.uid == SET_UID {
                    return Err(format!("{name} is owned by the set under Retain/Retain"));
                }
            }
        }
    }
    Ok(())
}

fn run(config: &Config, events: &[Event]) -> Result<(), String> {
    let mut w = build(config);
    for event in events {
        let claims_before = w.claims.len();
        match event {
            Event::Sync(mask) => {
                let plan = w.plan();
                check_plan(&w, &plan, config)?;
                let mut call = 0u32;
                w.apply(&plan, |_| {
                    let fail = (mask >> (call % 32)) & 1 == 1;
                    call += 1;
                    fail
                });
            }
            Event::Run(i) => {
                if let Some(p) = pick(&w, *i) {
                    w.run(&p)
                }
            }
            Event::Ready(i) => {
                if let Some(p) = pick(&w, *i) {
                    w.ready(&p)
                }
            }
            Event::ReadyAll => w.ready_all(),
            Event::Unready(i) => {
                if let Some(p) = pick(&w, *i) {
                    w.unready(&p)
                }
            }
            Event::Fail(i) => {
                if let Some(p) = pick(&w, *i) {
                    w.fail(&p)
                }
            }
            Event::Succeed(i) => {
                if let Some(p) = pick(&w, *i) {
                    w.succeed(&p)
                }
            }
            Event::Delete(i) => {
                if let Some(p) = pick(&w, *i) {
                    w.delete(&p)
                }
            }
            Event::FinishTerminating => w.finish_terminating(),
            Event::CollectGarbage => w.collect_garbage(),
            Event::Advance(s) => w.advance(*s),
            Event::Scale(n) => w.scale(*n),
            Event::Image(v) => w.set_image(&format!("nginx:{v}")),
            Event::Partition(p) => {
                if matches!(config.strategy, Updates::Rolling { .. }) {
                    w.set_partition(*p)
                }
            }
            Event::Start(s) => w.set_start(*s),
            Event::Reserve(i) => w.annotate(RESERVED_ORDINALS, RESERVATIONS[*i]),
        }
        check_claims(&w, config, claims_before)?;
    }

    // The events stop: sync, let the kubelet ready everything, repeat.
    let mut settled = false;
    for _ in 0..200 {
        let plan = w.plan();
        check_plan(&w, &plan, config)?;
        w.apply(&plan, |_| false);
        w.finish_terminating();
        w.collect_garbage();
        w.ready_all();
        w.advance(60);
        if plan.is_idle() && w.plan().is_idle() {
            settled = true;
            break;
        }
    }
    if !settled {
        return Err(format!(
            "did not settle: pods {:?}, status {:?}",
            w.pod_names(),
            w.set.status
        ));
    }
    check_converged(&w, config)
}

fn check_converged(w: &World, config: &Config) -> Result<(), String> {
    let wanted = range(w);
    let start = w
        .set
        .spec
        .as_ref()
        .and_then(|s| s.ordinals.as_ref())
        .and_then(|o| o.start)
        .map_or(0, i64::from);
    let want: Vec<String> = wanted.iter().map(|o| format!("web-{o}")).collect();
    if w.live_pods() != want || w.pods.len() != want.len() {
        return Err(format!("pods {:?}, want {want:?}", w.pod_names()));
    }
    if let Some(p) = w.pods.values().find(|p| !is_running_and_ready(p)) {
        return Err(format!("{:?} is not ready", p.metadata.name));
    }
    if let Some(p) = w.pods.values().find(|p| {
        super::super::in_place::has_gate(p)
            && ordinal_core::pod::condition(p, super::super::IN_PLACE_GATE)
                .is_none_or(|c| c.status != "True")
    }) {
        return Err(format!(
            "{:?} still has its in-place gate closed",
            p.metadata.name
        ));
    }
    let spec = w.set.spec.as_ref().expect("spec");
    let status = w.status();
    let desired = spec.replicas.unwrap_or(1);
    if status.replicas != desired || status.ready_replicas != Some(desired) {
        return Err(format!("status {status:?}"));
    }
    if status.observed_generation != w.set.metadata.generation {
        return Err("observedGeneration lags".into());
    }
    let update = w.update_revision();
    let data = w.revisions.get(&update).and_then(|r| r.data.clone());
    if data.map(|d| d.0) != Some(revision_data(&spec.template)) {
        return Err(format!(
            "update revision {update} does not hold the template"
        ));
    }
    let partition = match &config.strategy {
        Updates::Rolling { .. } => spec
            .update_strategy
            .as_ref()
            .and_then(|u| u.rolling_update.as_ref())
            .and_then(|r| r.partition)
            .unwrap_or(0),
        Updates::RollingWithoutBlock | Updates::Recreate => 0,
        Updates::OnDelete => return Ok(()),
    };
    for name in &want {
        if ordinal(name) - start >= i64::from(partition) && w.revision_of(name) != update {
            return Err(format!("{name} is not at the update revision"));
        }
    }
    if partition == 0 && w.current_revision() != update {
        return Err("rollout not completed".into());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_histories_keep_the_invariants_and_converge(
        config in config(),
        events in proptest::collection::vec(event(), 0..60),
    ) {
        if let Err(violation) = run(&config, &events) {
            prop_assert!(false, "{violation}\nconfig: {config:?}");
        }
    }
}
