//! The components of one process, stopped in the reverse of the order they
//! started in (as k3s's executor runs its components): what started last,
//! and so depends on the most, goes first.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::tasks::{Background, Stopped};

type Stop = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

struct Component {
    name: &'static str,
    /// How long its stop may take before it is left behind.
    within: Duration,
    stop: Stop,
}

/// The running components, in start order.
#[derive(Default)]
pub struct Components {
    running: Vec<Component>,
}

impl Components {
    /// Runs `run` in the background until [`Components::stop`]; it is given
    /// a future that completes when it should stop.
    pub fn spawn<F, Fut>(&mut self, name: &'static str, within: Duration, run: F)
    where
        F: FnOnce(Stopped) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let task = Background::spawn(run);
        self.started(name, within, move || task.stop(within));
    }

    /// A component started by its own means, with how to stop it.
    pub fn started<F, Fut>(&mut self, name: &'static str, within: Duration, stop: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.running.push(Component {
            name,
            within,
            stop: Box::new(move || Box::pin(stop())),
        });
    }

    /// Stops every component, the last started first, each within its
    /// bound.
    pub async fn stop(mut self) {
        while let Some(component) = self.running.pop() {
            tracing::debug!(component = component.name, "stopping");
            if tokio::time::timeout(component.within, (component.stop)())
                .await
                .is_err()
            {
                tracing::warn!(
                    component = component.name,
                    "did not stop within {:?}; going on",
                    component.within
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn components_stop_last_started_first() {
        let stopped = Arc::new(Mutex::new(Vec::new()));
        let mut components = Components::default();
        for name in ["api", "dns", "node"] {
            let stopped = Arc::clone(&stopped);
            components.spawn(name, Duration::from_secs(1), move |signal| async move {
                signal.await;
                stopped.lock().unwrap().push(name);
            });
        }
        let log = Arc::clone(&stopped);
        components.started("store", Duration::from_secs(1), move || async move {
            log.lock().unwrap().push("store");
        });
        components.stop().await;
        assert_eq!(*stopped.lock().unwrap(), ["store", "node", "dns", "api"]);
    }

    #[tokio::test]
    async fn a_component_that_hangs_is_left_behind() {
        let mut components = Components::default();
        components.started("stuck", Duration::from_millis(20), || {
            std::future::pending::<()>()
        });
        tokio::time::timeout(Duration::from_secs(2), components.stop())
            .await
            .expect("stop returns");
    }
}
