//! One container of a pod as the worker tracks it across restarts: the
//! running instance (if any), how the last one ended, its restart count
//! and back-off, and what to report while it is not running.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Container;
use tokio::task::JoinHandle;

use super::actions::{self, ImageState};
use super::backoff::Backoff;
use super::status::{ContainerView, State, Termination};
use crate::runtime::{ContainerSpec, Process};

/// A running container instance.
pub struct Instance {
    pub process: Process,
    pub spec: ContainerSpec,
    /// The container spec it was started from, to notice changes.
    pub definition: Arc<Container>,
    /// Which start of this slot it is (to ignore late notes about older
    /// instances).
    pub generation: u64,
    pub started: bool,
    pub ready: bool,
    pub probes: Option<JoinHandle<()>>,
    /// Set once the worker has decided to stop it (and why).
    pub stopping: Option<String>,
    /// Why it must be restarted (a failed liveness or startup probe).
    pub unhealthy: Option<String>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(p) = self.probes.take() {
            p.abort();
        }
    }
}

pub struct Slot {
    pub spec: Arc<Container>,
    /// An init container with restartPolicy Always.
    pub sidecar: bool,
    pub instance: Option<Instance>,
    /// How the last instance ended.
    pub last: Option<Termination>,
    /// The slot will not start again (finished under the restart policy,
    /// or an init container that completed).
    pub done: bool,
    /// What to report while not running (reason, message).
    pub waiting: (String, Option<String>),
    pub restart_count: i32,
    pub starts: u64,
    pub backoff: Backoff,
    /// The earliest time of the next start.
    pub not_before: Option<tokio::time::Instant>,
    /// Back-off delay now in force (for the CrashLoopBackOff message).
    pub delay: Duration,
    /// Where the image stands for the next start.
    pub image: ImageState,
    /// The image found or pulled for the next start.
    pub pulled: Option<Arc<ordinal_image::Image>>,
    /// The pull back-off in force, and why the last pull failed.
    pub pull_delay: Option<Duration>,
    pub pull_error: Option<String>,
    pub pull_failed_at: Option<tokio::time::Instant>,
    /// Counts pulls, so a late answer to an older one is ignored.
    pub pull_attempt: u64,
    /// The `imageID` of the last instance started.
    pub image_id: String,
}

impl Slot {
    pub fn new(spec: Container, sidecar: bool, waiting: &str) -> Slot {
        Slot {
            spec: Arc::new(spec),
            sidecar,
            instance: None,
            last: None,
            done: false,
            waiting: (waiting.to_string(), None),
            restart_count: 0,
            starts: 0,
            backoff: Backoff::default(),
            not_before: None,
            delay: Duration::ZERO,
            image: ImageState::Unchecked,
            pulled: None,
            pull_delay: None,
            pull_error: None,
            pull_failed_at: None,
            pull_attempt: 0,
            image_id: String::new(),
        }
    }

    /// Takes a changed definition (a new image). The new definition
    /// starts with a fresh restart back-off, as the kubelet keys its
    /// back-off by the container's hash: a crash-looping container given
    /// a fixed image starts at once, and one restarted only because its
    /// image changed does not wait out the old one's back-off. A new image
    /// is looked at afresh before the next start.
    pub fn redefine(&mut self, definition: Container) {
        self.spec = Arc::new(definition);
        self.backoff = Backoff::default();
        self.not_before = None;
        self.delay = Duration::ZERO;
        if !self.running() {
            self.image = ImageState::Unchecked;
            self.pulled = None;
        }
    }

    /// What the planner needs to know of this container.
    pub fn observed(&self) -> actions::Container {
        actions::Container {
            sidecar: self.sidecar,
            running: self.instance.as_ref().map(|i| actions::Running {
                started: i.started,
                stopping: i.stopping.is_some(),
                definition_changed: *i.definition != *self.spec,
                unhealthy: i.unhealthy.is_some(),
            }),
            done: self.done,
            succeeded: self.succeeded(),
            not_before: self.not_before,
            image: self.image,
        }
    }

    pub fn running(&self) -> bool {
        self.instance.is_some()
    }

    /// Completed successfully (init containers).
    pub fn succeeded(&self) -> bool {
        self.done && self.last.as_ref().is_some_and(|t| t.exit_code == 0)
    }

    /// The slot as the status module sees it.
    pub fn view(&self) -> ContainerView {
        let state = match &self.instance {
            Some(i) => State::Running {
                started_at: i.process.started_at,
                container_id: format!("ordinal://{}", i.process.id),
                ready: i.ready && i.started && i.stopping.is_none(),
                started: i.started,
            },
            None if self.done => match &self.last {
                Some(t) => State::Terminated(t.clone()),
                None => State::Waiting {
                    reason: self.waiting.0.clone(),
                    message: self.waiting.1.clone(),
                },
            },
            None => State::Waiting {
                reason: self.waiting.0.clone(),
                message: self.waiting.1.clone(),
            },
        };
        // A finished container's own termination is its state; the one
        // before it (if any) would be lastState, which we do not keep.
        let last = match (&self.instance, self.done) {
            (None, true) => None,
            _ => self.last.clone(),
        };
        // A running container reports the image it runs, which is not the
        // spec's while an image change has yet to restart it.
        let image = match &self.instance {
            Some(i) => i.definition.image.clone(),
            None => self.spec.image.clone(),
        };
        ContainerView {
            name: self.spec.name.clone(),
            image: image.unwrap_or_default(),
            image_id: self.image_id.clone(),
            state,
            last,
            restart_count: self.restart_count,
            sidecar: self.sidecar,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::backoff;
    use super::*;

    fn container(image: &str) -> Container {
        Container {
            name: "app".into(),
            image: Some(image.into()),
            ..Container::default()
        }
    }

    #[test]
    fn a_new_definition_starts_without_the_old_ones_back_off() {
        let mut slot = Slot::new(container("app:1"), false, "ContainerCreating");
        // Crash-looping: two quick exits, the second one backed off.
        let quick = Duration::from_secs(1);
        assert_eq!(slot.backoff.next(quick), Duration::ZERO);
        slot.delay = slot.backoff.next(quick);
        slot.not_before = Some(tokio::time::Instant::now() + slot.delay);
        slot.image = ImageState::Ready;
        assert_eq!(slot.delay, backoff::INITIAL);

        slot.redefine(container("app:2"));
        let seen = slot.observed();
        assert_eq!(seen.not_before, None, "no back-off left to wait out");
        assert_eq!(
            seen.image,
            ImageState::Unchecked,
            "the new image is looked at"
        );
        assert_eq!(slot.spec.image.as_deref(), Some("app:2"));
        // Its own first restart is immediate again, the next one backed off.
        assert_eq!(slot.backoff.next(quick), Duration::ZERO);
        assert_eq!(slot.backoff.next(quick), backoff::INITIAL);
    }
}
