//! What a pod worker does next: a pure function from what it observes of
//! its pod's containers and the clock to the actions to take — the shape
//! of the kubelet's `computePodActions`. The worker ([`super::Worker`])
//! observes, calls [`compute`], and carries the actions out; nothing here
//! does I/O, so every decision is tested with tables of situations.
//!
//! The rules, as the kubelet's:
//!
//! - nothing happens until the sandbox exists;
//! - init containers run one at a time, in order, each to completion; a
//!   sidecar (an init container with `restartPolicy: Always`) only has to
//!   have started (its startup probe passed) before the next one runs;
//! - then every app container that is not running is started, unless it
//!   is in its restart back-off (`CrashLoopBackOff`) or its image is not
//!   there yet (pulled first, as its pull policy says; a failed pull backs
//!   off as `ImagePullBackOff`);
//! - a running container whose definition changed, or that failed its
//!   liveness or startup probe or its postStart hook, is killed (and
//!   restarted by its policy once it has exited);
//! - under restart policy `Never` or `OnFailure` the pod is finished when
//!   every app container is done for good, or when an init container
//!   failed for good.

use tokio::time::Instant;

/// Which container: an init container or an app container, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Which {
    pub init: bool,
    pub index: usize,
}

impl Which {
    pub fn init(index: usize) -> Which {
        Which { init: true, index }
    }

    pub fn app(index: usize) -> Which {
        Which { init: false, index }
    }
}

/// Where a container's image stands for its next start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageState {
    /// Not looked at since the last start: check it (and pull if the pull
    /// policy says so).
    Unchecked,
    /// A pull is under way.
    Pulling,
    /// There, checked as the policy asks: the container can start.
    Ready,
    /// The last pull failed; the next attempt waits until then.
    BackOff { until: Instant },
}

/// What the worker knows of a running instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Running {
    /// Its startup probe passed (or it has none).
    pub started: bool,
    /// The worker is stopping it already.
    pub stopping: bool,
    /// The pod spec's container differs from the one it was started from.
    pub definition_changed: bool,
    /// A liveness or startup probe failed, or its postStart hook did.
    pub unhealthy: bool,
}

/// What the worker knows of one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Container {
    /// An init container with `restartPolicy: Always`.
    pub sidecar: bool,
    pub running: Option<Running>,
    /// Will not start again (finished under the restart policy, or an init
    /// container that completed).
    pub done: bool,
    /// The last instance exited 0.
    pub succeeded: bool,
    /// The restart back-off: no start before then.
    pub not_before: Option<Instant>,
    pub image: ImageState,
}

impl Container {
    /// A container that has never run.
    #[cfg(test)]
    pub fn new(sidecar: bool) -> Container {
        Container {
            sidecar,
            running: None,
            done: false,
            succeeded: false,
            not_before: None,
            image: ImageState::Unchecked,
        }
    }
}

/// The pod's restart policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

impl RestartPolicy {
    pub fn parse(policy: Option<&str>) -> RestartPolicy {
        match policy {
            Some("OnFailure") => RestartPolicy::OnFailure,
            Some("Never") => RestartPolicy::Never,
            _ => RestartPolicy::Always,
        }
    }
}

/// Everything [`compute`] decides from.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub policy: RestartPolicy,
    /// The pod is finished or being torn down: nothing starts.
    pub terminal: bool,
    pub sandbox_ready: bool,
    pub init: &'a [Container],
    pub app: &'a [Container],
    pub now: Instant,
}

/// Why a running container is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kill {
    DefinitionChanged,
    Unhealthy,
}

/// One thing to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CreateSandbox,
    /// Look the container's image up and pull it if its policy says so.
    EnsureImage(Which),
    Start(Which),
    /// Waiting out its restart back-off (report `CrashLoopBackOff`).
    RestartBackOff(Which),
    /// Waiting out its image pull back-off (report `ImagePullBackOff`).
    ImageBackOff(Which),
    Kill(Which, Kill),
    /// The pod is finished under its restart policy.
    Finish,
}

/// The actions for this moment, in the order to take them.
pub fn compute(o: &Observed<'_>) -> Vec<Action> {
    let mut actions = Vec::new();
    if o.terminal {
        return actions;
    }
    if !o.sandbox_ready {
        actions.push(Action::CreateSandbox);
        return actions;
    }
    // Unhealthy or changed containers are killed wherever they are.
    for (which, c) in all(o) {
        if let Some(r) = c.running
            && !r.stopping
        {
            if r.unhealthy {
                actions.push(Action::Kill(which, Kill::Unhealthy));
            } else if r.definition_changed && !which.init {
                actions.push(Action::Kill(which, Kill::DefinitionChanged));
            }
        }
    }
    for (index, c) in o.init.iter().enumerate() {
        let which = Which::init(index);
        if c.sidecar {
            match c.running {
                Some(r) if r.started => continue,
                Some(_) => return actions,
                // Only a finished pod has sidecars done for good.
                None if c.done => return actions,
                None => {
                    start_or_wait(o, which, c, &mut actions);
                    return actions;
                }
            }
        }
        if c.done && c.succeeded {
            continue;
        }
        if c.running.is_some() {
            return actions;
        }
        if c.done {
            // Failed for good (restart policy Never): so is the pod.
            actions.push(Action::Finish);
            return actions;
        }
        start_or_wait(o, which, c, &mut actions);
        return actions;
    }
    for (index, c) in o.app.iter().enumerate() {
        if c.running.is_some() || c.done {
            continue;
        }
        start_or_wait(o, Which::app(index), c, &mut actions);
    }
    if o.policy != RestartPolicy::Always && !o.app.is_empty() && o.app.iter().all(|c| c.done) {
        actions.push(Action::Finish);
    }
    actions
}

fn all<'a>(o: &'a Observed<'a>) -> impl Iterator<Item = (Which, &'a Container)> {
    let init = o.init.iter().enumerate().map(|(i, c)| (Which::init(i), c));
    let app = o.app.iter().enumerate().map(|(i, c)| (Which::app(i), c));
    init.chain(app)
}

/// A container that should run: its restart back-off first, then its
/// image, then the start.
fn start_or_wait(o: &Observed<'_>, which: Which, c: &Container, actions: &mut Vec<Action>) {
    if c.not_before.is_some_and(|t| t > o.now) {
        actions.push(Action::RestartBackOff(which));
        return;
    }
    actions.push(match c.image {
        ImageState::Unchecked => Action::EnsureImage(which),
        ImageState::Pulling => return,
        ImageState::Ready => Action::Start(which),
        ImageState::BackOff { until } if until > o.now => Action::ImageBackOff(which),
        ImageState::BackOff { .. } => Action::EnsureImage(which),
    });
}

/// When the worker must look again even if nothing happens: the end of
/// the earliest back-off still in force.
pub fn next_wake(o: &Observed<'_>) -> Option<Instant> {
    all(o)
        .filter(|(_, c)| c.running.is_none() && !c.done)
        .flat_map(|(_, c)| {
            let image = match c.image {
                ImageState::BackOff { until } => Some(until),
                _ => None,
            };
            c.not_before.into_iter().chain(image)
        })
        .filter(|t| *t > o.now)
        .min()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(now: Instant, secs: u64) -> Instant {
        now + Duration::from_secs(secs)
    }

    fn ready() -> Container {
        Container {
            image: ImageState::Ready,
            ..Container::new(false)
        }
    }

    fn running(started: bool) -> Container {
        Container {
            running: Some(Running {
                started,
                ..Running::default()
            }),
            ..ready()
        }
    }

    fn finished(code: i32) -> Container {
        Container {
            done: true,
            succeeded: code == 0,
            ..ready()
        }
    }

    fn plan(init: &[Container], app: &[Container], policy: RestartPolicy) -> Vec<Action> {
        compute(&Observed {
            policy,
            terminal: false,
            sandbox_ready: true,
            init,
            app,
            now: Instant::now(),
        })
    }

    #[test]
    fn nothing_before_the_sandbox_and_nothing_once_terminal() {
        let app = [Container::new(false)];
        let now = Instant::now();
        let mut o = Observed {
            policy: RestartPolicy::Always,
            terminal: false,
            sandbox_ready: false,
            init: &[],
            app: &app,
            now,
        };
        assert_eq!(compute(&o), vec![Action::CreateSandbox]);
        o.terminal = true;
        assert_eq!(compute(&o), vec![]);
    }

    #[test]
    fn images_are_checked_then_containers_start_in_order() {
        let app = [Container::new(false), ready(), running(true)];
        assert_eq!(
            plan(&[], &app, RestartPolicy::Always),
            vec![
                Action::EnsureImage(Which::app(0)),
                Action::Start(Which::app(1))
            ]
        );
        let pulling = [Container {
            image: ImageState::Pulling,
            ..Container::new(false)
        }];
        assert_eq!(plan(&[], &pulling, RestartPolicy::Always), vec![]);
    }

    #[test]
    fn init_containers_run_one_at_a_time_to_completion() {
        let app = [ready()];
        let init = [finished(0), ready(), ready()];
        assert_eq!(
            plan(&init, &app, RestartPolicy::Always),
            vec![Action::Start(Which::init(1))]
        );
        let init = [finished(0), running(true), ready()];
        assert_eq!(plan(&init, &app, RestartPolicy::Always), vec![]);
        let init = [finished(0), finished(0)];
        assert_eq!(
            plan(&init, &app, RestartPolicy::Always),
            vec![Action::Start(Which::app(0))]
        );
    }

    #[test]
    fn a_sidecar_only_has_to_have_started() {
        let app = [ready()];
        let sidecar = |c: Container| Container { sidecar: true, ..c };
        let init = [sidecar(running(false)), ready()];
        assert_eq!(plan(&init, &app, RestartPolicy::Always), vec![]);
        let init = [sidecar(running(true)), ready()];
        assert_eq!(
            plan(&init, &app, RestartPolicy::Always),
            vec![Action::Start(Which::init(1))]
        );
        let init = [sidecar(ready())];
        assert_eq!(
            plan(&init, &app, RestartPolicy::Always),
            vec![Action::Start(Which::init(0))]
        );
    }

    #[test]
    fn a_failed_init_container_under_never_finishes_the_pod() {
        let app = [ready()];
        let init = [finished(1)];
        assert_eq!(
            plan(&init, &app, RestartPolicy::Never),
            vec![Action::Finish]
        );
    }

    #[test]
    fn back_offs_hold_starts_and_pulls_until_they_end() {
        let now = Instant::now();
        let app = [
            Container {
                not_before: Some(at(now, 10)),
                ..ready()
            },
            Container {
                image: ImageState::BackOff { until: at(now, 20) },
                ..Container::new(false)
            },
            Container {
                image: ImageState::BackOff { until: now },
                ..Container::new(false)
            },
        ];
        let o = Observed {
            policy: RestartPolicy::Always,
            terminal: false,
            sandbox_ready: true,
            init: &[],
            app: &app,
            now,
        };
        assert_eq!(
            compute(&o),
            vec![
                Action::RestartBackOff(Which::app(0)),
                Action::ImageBackOff(Which::app(1)),
                Action::EnsureImage(Which::app(2)),
            ]
        );
        assert_eq!(next_wake(&o), Some(at(now, 10)));
        // The restart back-off comes before the image: a container in
        // CrashLoopBackOff does not pull.
        let both = [Container {
            not_before: Some(at(now, 5)),
            image: ImageState::Unchecked,
            ..Container::new(false)
        }];
        let o = Observed { app: &both, ..o };
        assert_eq!(compute(&o), vec![Action::RestartBackOff(Which::app(0))]);
    }

    #[test]
    fn changed_or_unhealthy_containers_are_killed_once() {
        let change = |r: Running| Container {
            running: Some(r),
            ..ready()
        };
        let app = [
            change(Running {
                definition_changed: true,
                ..Running::default()
            }),
            change(Running {
                unhealthy: true,
                started: true,
                ..Running::default()
            }),
            change(Running {
                unhealthy: true,
                stopping: true,
                ..Running::default()
            }),
        ];
        assert_eq!(
            plan(&[], &app, RestartPolicy::Always),
            vec![
                Action::Kill(Which::app(0), Kill::DefinitionChanged),
                Action::Kill(Which::app(1), Kill::Unhealthy),
            ]
        );
    }

    #[test]
    fn restart_policies_finish_pods_when_every_app_container_is_done() {
        let app = [finished(0), finished(1)];
        assert_eq!(plan(&[], &app, RestartPolicy::Never), vec![Action::Finish]);
        assert_eq!(
            plan(&[], &app, RestartPolicy::OnFailure),
            vec![Action::Finish]
        );
        assert_eq!(plan(&[], &app, RestartPolicy::Always), vec![]);
        let app = [finished(0), running(true)];
        assert_eq!(plan(&[], &app, RestartPolicy::Never), vec![]);
    }

    mod invariants {
        use proptest::prelude::*;

        use super::*;

        fn image() -> impl Strategy<Value = u8> {
            0u8..5
        }

        /// sidecar, running (started, stopping, changed, unhealthy), done,
        /// succeeded, back-off seconds, image state.
        type Drawn = (
            bool,
            Option<(bool, bool, bool, bool)>,
            bool,
            bool,
            Option<u64>,
            u8,
        );

        prop_compose! {
            fn container()(
                sidecar in any::<bool>(),
                running in proptest::option::of((any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>())),
                done in any::<bool>(),
                succeeded in any::<bool>(),
                backoff in proptest::option::of(0u64..3),
                image in image(),
            ) -> Drawn {
                (sidecar, running, done, succeeded, backoff, image)
            }
        }

        fn make(
            now: Instant,
            (sidecar, running, done, succeeded, backoff, image): Drawn,
        ) -> Container {
            Container {
                sidecar,
                running: running.map(|(started, stopping, definition_changed, unhealthy)| {
                    Running {
                        started,
                        stopping,
                        definition_changed,
                        unhealthy,
                    }
                }),
                done: done && running.is_none(),
                succeeded,
                not_before: backoff.map(|s| now + Duration::from_secs(s)),
                image: match image {
                    0 => ImageState::Unchecked,
                    1 => ImageState::Pulling,
                    2 => ImageState::Ready,
                    3 => ImageState::BackOff {
                        until: now + Duration::from_secs(5),
                    },
                    _ => ImageState::BackOff { until: now },
                },
            }
        }

        proptest! {
            /// Whatever it sees, the planner never starts a container that
            /// runs, is done, is backing off or has no ready image; never
            /// starts two init containers at once or one before every
            /// earlier init container completed (or, for sidecars,
            /// started); and never does anything before the sandbox.
            #[test]
            fn starts_respect_order_images_and_back_offs(
                init in proptest::collection::vec(container(), 0..4),
                app in proptest::collection::vec(container(), 1..4),
                sandbox in any::<bool>(),
                policy in 0u8..3,
            ) {
                let now = Instant::now();
                let init: Vec<Container> = init.into_iter().map(|c| make(now, c)).collect();
                let app: Vec<Container> = app.into_iter().map(|c| Container { sidecar: false, ..make(now, c) }).collect();
                let policy = [RestartPolicy::Always, RestartPolicy::OnFailure, RestartPolicy::Never][policy as usize];
                let o = Observed { policy, terminal: false, sandbox_ready: sandbox, init: &init, app: &app, now };
                let actions = compute(&o);
                if !sandbox {
                    prop_assert_eq!(actions, vec![Action::CreateSandbox]);
                    return Ok(());
                }
                let starts: Vec<Which> = actions.iter().filter_map(|a| match a {
                    Action::Start(w) => Some(*w),
                    _ => None,
                }).collect();
                for w in &starts {
                    let c = if w.init { &init[w.index] } else { &app[w.index] };
                    prop_assert!(c.running.is_none() && !c.done);
                    prop_assert_eq!(c.image, ImageState::Ready);
                    prop_assert!(c.not_before.is_none_or(|t| t <= now));
                }
                let init_starts: Vec<&Which> = starts.iter().filter(|w| w.init).collect();
                prop_assert!(init_starts.len() <= 1);
                if let Some(w) = init_starts.first() {
                    for earlier in &init[..w.index] {
                        let through = if earlier.sidecar {
                            earlier.running.is_some_and(|r| r.started)
                        } else {
                            earlier.done && earlier.succeeded
                        };
                        prop_assert!(through, "init {} started before an earlier one was through", w.index);
                    }
                    prop_assert!(starts.iter().all(|s| s.init), "app containers start only after every init container");
                }
                if starts.iter().any(|s| !s.init) {
                    for c in &init {
                        let through = if c.sidecar {
                            c.running.is_some_and(|r| r.started)
                        } else {
                            c.done && c.succeeded
                        };
                        prop_assert!(through);
                    }
                }
                for a in &actions {
                    if let Action::Kill(w, _) = a {
                        let c = if w.init { &init[w.index] } else { &app[w.index] };
                        prop_assert!(c.running.is_some_and(|r| !r.stopping));
                    }
                }
            }
        }
    }
}
