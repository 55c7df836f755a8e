//! Leader election through a coordination.k8s.io/v1 Lease, in the manner of
//! client-go's `leaderelection`, so that several replicas of
//! `ordinal controller` can run and only one acts.
//!
//! Every [`Config::retry_every`] a candidate reads the Lease and [`decide`]s:
//! create it when missing, renew it when it holds it, take it when nobody
//! holds it or the holder let it expire, else wait. Expiry is judged by the
//! local clock — how long this candidate has seen the Lease unchanged —
//! never by comparing the timestamps written by another machine. Writes
//! carry the resourceVersion read, so two candidates never both take it.
//!
//! The leader renews every [`Config::renew_every`]. It stops acting at once
//! when a renewal finds another holder, or when it has not renewed for
//! [`Config::renew_deadline`] (shorter than the lease, so it stops before
//! anyone else may start). On shutdown it gives the Lease up, so a standby
//! takes over without waiting for expiry.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use futures::FutureExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, PostParams};

/// The namespace of the Lease `ordinal controller` replicas elect through.
pub const LEASE_NAMESPACE: &str = "kube-system";
/// The name of that Lease.
pub const LEASE_NAME: &str = "ordinal-controller";

/// Timings and names of an election.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This candidate's `holderIdentity`.
    pub identity: String,
    /// How long a Lease not renewed stays with its holder.
    pub lease_duration: Duration,
    /// How often the leader renews.
    pub renew_every: Duration,
    /// How long the leader goes on without a successful renewal before it
    /// stops acting.
    pub renew_deadline: Duration,
    /// How often a candidate tries to acquire.
    pub retry_every: Duration,
}

impl Config {
    /// `kube-system/ordinal-controller`, 15 s lease, renewing every 2 s.
    pub fn new(identity: String) -> Config {
        Config {
            namespace: LEASE_NAMESPACE.into(),
            name: LEASE_NAME.into(),
            identity,
            lease_duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(2),
            renew_deadline: Duration::from_secs(10),
            retry_every: Duration::from_secs(2),
        }
    }
}

/// `hostname_<random>`: unique per process, readable in the Lease.
pub fn identity() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{}_{:08x}", crate::hostname(), h.finish() as u32)
}

/// What to do about the Lease, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// There is none: create it, naming us.
    Create,
    /// We hold it: renew it.
    Renew,
    /// Nobody holds it, or its holder let it expire: take it.
    Acquire,
    /// Someone else holds it: wait.
    Wait,
}

/// Decides from the Lease as read (`None`: it does not exist) and how long
/// this candidate has seen it unchanged. A Lease without a duration gets
/// `default_duration`.
pub fn decide(
    lease: Option<&LeaseSpec>,
    me: &str,
    unchanged_for: Duration,
    default_duration: Duration,
) -> Decision {
    let Some(spec) = lease else {
        return Decision::Create;
    };
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if holder == me {
        return Decision::Renew;
    }
    if holder.is_empty() {
        return Decision::Acquire;
    }
    let duration = spec
        .lease_duration_seconds
        .filter(|s| *s > 0)
        .map(|s| Duration::from_secs(s as u64))
        .unwrap_or(default_duration);
    if unchanged_for >= duration {
        Decision::Acquire
    } else {
        Decision::Wait
    }
}

/// The Lease `decision` writes, from the one read (`None` to create).
pub fn next_spec(
    decision: Decision,
    read: Option<&LeaseSpec>,
    config: &Config,
    now: jiff::Timestamp,
) -> Option<LeaseSpec> {
    let now = MicroTime(now);
    let duration = i32::try_from(config.lease_duration.as_secs()).unwrap_or(i32::MAX);
    match decision {
        Decision::Wait => None,
        Decision::Create => Some(LeaseSpec {
            holder_identity: Some(config.identity.clone()),
            lease_duration_seconds: Some(duration),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            lease_transitions: Some(0),
            ..LeaseSpec::default()
        }),
        Decision::Renew => {
            let mut spec = read.cloned().unwrap_or_default();
            spec.renew_time = Some(now);
            spec.lease_duration_seconds = Some(duration);
            Some(spec)
        }
        Decision::Acquire => {
            // A change of holder, counted as client-go counts it (a
            // released lease taken again counts too).
            let mut spec = read.cloned().unwrap_or_default();
            spec.holder_identity = Some(config.identity.clone());
            spec.lease_duration_seconds = Some(duration);
            spec.acquire_time = Some(now.clone());
            spec.renew_time = Some(now);
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
            Some(spec)
        }
    }
}

/// One candidate.
pub struct Elector {
    api: Api<Lease>,
    config: Config,
    /// The Lease's resourceVersion as last read, and since when.
    seen: Option<(String, Instant)>,
}

impl Elector {
    /// A candidate for the Lease `config` names, not yet holding it.
    pub fn new(client: Client, config: Config) -> Elector {
        Elector {
            api: Api::namespaced(client, &config.namespace),
            config,
            seen: None,
        }
    }

    /// The election's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Reads the Lease and acts on it once; `Ok(true)` when we hold it
    /// afterwards.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let read = self.api.get_opt(&self.config.name).await?;
        let now = Instant::now();
        let unchanged_for = match (&read, &self.seen) {
            (Some(lease), Some((version, since)))
                if lease.metadata.resource_version.as_ref() == Some(version) =>
            {
                now.duration_since(*since)
            }
            (Some(lease), _) => {
                let version = lease.metadata.resource_version.clone().unwrap_or_default();
                self.seen = Some((version, now));
                Duration::ZERO
            }
            (None, _) => Duration::ZERO,
        };
        let spec = read.as_ref().and_then(|l| l.spec.as_ref());
        let decision = decide(
            read.as_ref()
                .map(|l| l.spec.clone().unwrap_or_default())
                .as_ref(),
            &self.config.identity,
            unchanged_for,
            self.config.lease_duration,
        );
        let Some(next) = next_spec(decision, spec, &self.config, jiff::Timestamp::now()) else {
            return Ok(false);
        };
        let result = match read {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.name.clone()),
                        namespace: Some(self.config.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(next),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            Some(mut lease) => {
                lease.spec = Some(next);
                lease.metadata.managed_fields = None;
                self.api
                    .replace(&self.config.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match result {
            Ok(written) => {
                if let Some(v) = written.metadata.resource_version {
                    self.seen = Some((v, Instant::now()));
                }
                if decision == Decision::Acquire || decision == Decision::Create {
                    tracing::info!(identity = %self.config.identity, "acquired the lease {}/{}",
                        self.config.namespace, self.config.name);
                }
                Ok(true)
            }
            // Someone else wrote first (AlreadyExists or Conflict).
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up if we hold it, so another candidate need not wait
    /// for it to expire.
    pub async fn release(&mut self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(jiff::Timestamp::now()));
        lease.metadata.managed_fields = None;
        self.api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await?;
        Ok(())
    }

    /// Waits until this candidate holds the Lease; `false` if `shutdown`
    /// came first.
    pub async fn acquire(&mut self, shutdown: impl Future<Output = ()>) -> bool {
        futures::pin_mut!(shutdown);
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => return true,
                Ok(false) => {}
                Err(e) => tracing::debug!(error = %e, "leader election: reading the lease failed"),
            }
            tokio::select! {
                _ = &mut shutdown => return false,
                _ = tokio::time::sleep(self.config.retry_every) => {}
            }
        }
    }

    /// Renews until the Lease is lost or could not be renewed within the
    /// renew deadline; then returns (a renewal that hangs counts as failed
    /// once the deadline passes).
    pub async fn keep(&mut self) {
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(self.config.renew_every).await;
            let left = self.config.renew_deadline.saturating_sub(renewed.elapsed());
            match tokio::time::timeout(left, self.try_acquire_or_renew()).await {
                Ok(Ok(true)) => renewed = Instant::now(),
                Ok(Ok(false)) => {
                    tracing::warn!(identity = %self.config.identity, "leader election: lost the lease");
                    return;
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "leader election: renewing failed"),
                Err(_) => {}
            }
            if renewed.elapsed() >= self.config.renew_deadline {
                tracing::warn!(identity = %self.config.identity,
                    "leader election: could not renew the lease in time");
                return;
            }
        }
    }
}

/// Runs the controllers of this crate whenever this candidate leads, until
/// `shutdown` completes; stops them the moment leadership is lost and
/// campaigns again.
pub async fn run_elected(
    client: Client,
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) {
    let shutdown = shutdown.shared();
    let mut elector = Elector::new(client.clone(), config);
    loop {
        if !elector.acquire(shutdown.clone()).await {
            return;
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let controllers = tokio::spawn(crate::run(client.clone(), async move {
            let mut stopped = stopped;
            let _ = stopped.wait_for(|s| *s).await;
        }));
        let done = tokio::select! {
            _ = shutdown.clone() => true,
            _ = elector.keep() => false,
        };
        let _ = stop.send(true);
        let _ = controllers.await;
        if done {
            if let Err(e) = elector.release().await {
                tracing::debug!(error = %e, "leader election: releasing the lease failed");
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(15);

    fn held_by(holder: Option<&str>, seconds: Option<i32>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_string),
            lease_duration_seconds: seconds,
            lease_transitions: Some(3),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn a_missing_lease_is_created_and_our_own_renewed() {
        assert_eq!(decide(None, "a", Duration::ZERO, LEASE), Decision::Create);
        let ours = held_by(Some("a"), Some(15));
        // Even long unchanged: it is ours to renew.
        assert_eq!(
            decide(Some(&ours), "a", Duration::from_secs(60), LEASE),
            Decision::Renew
        );
    }

    #[test]
    fn another_holder_is_waited_for_until_the_lease_expires_here() {
        let theirs = held_by(Some("b"), Some(15));
        assert_eq!(
            decide(Some(&theirs), "a", Duration::ZERO, LEASE),
            Decision::Wait
        );
        assert_eq!(
            decide(Some(&theirs), "a", Duration::from_secs(14), LEASE),
            Decision::Wait
        );
        assert_eq!(
            decide(Some(&theirs), "a", Duration::from_secs(15), LEASE),
            Decision::Acquire
        );
        // The lease's own duration counts, not ours.
        let short = held_by(Some("b"), Some(5));
        assert_eq!(
            decide(Some(&short), "a", Duration::from_secs(5), LEASE),
            Decision::Acquire
        );
        let unset = held_by(Some("b"), None);
        assert_eq!(
            decide(Some(&unset), "a", Duration::from_secs(14), LEASE),
            Decision::Wait
        );
    }

    #[test]
    fn a_released_lease_is_taken_at_once() {
        for holder in [None, Some("")] {
            let free = held_by(holder, Some(1));
            assert_eq!(
                decide(Some(&free), "a", Duration::ZERO, LEASE),
                Decision::Acquire
            );
        }
    }

    #[test]
    fn taking_over_counts_a_transition_renewing_does_not() {
        let config = Config::new("a".into());
        let now = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let theirs = held_by(Some("b"), Some(15));
        let taken = next_spec(Decision::Acquire, Some(&theirs), &config, now).unwrap();
        assert_eq!(taken.holder_identity.as_deref(), Some("a"));
        assert_eq!(taken.lease_transitions, Some(4));
        assert_eq!(taken.lease_duration_seconds, Some(15));
        assert_eq!(taken.acquire_time, Some(MicroTime(now)));
        let free = held_by(None, Some(1));
        let taken = next_spec(Decision::Acquire, Some(&free), &config, now).unwrap();
        assert_eq!(taken.lease_transitions, Some(4));
        let later = now.checked_add(jiff::SignedDuration::from_secs(2)).unwrap();
        let renewed = next_spec(Decision::Renew, Some(&taken), &config, later).unwrap();
        assert_eq!(renewed.lease_transitions, Some(4));
        assert_eq!(renewed.acquire_time, Some(MicroTime(now)));
        assert_eq!(renewed.renew_time, Some(MicroTime(later)));
        let created = next_spec(Decision::Create, None, &config, now).unwrap();
        assert_eq!(created.lease_transitions, Some(0));
        assert_eq!(next_spec(Decision::Wait, Some(&theirs), &config, now), None);
    }

    #[test]
    fn identities_name_the_host_and_differ() {
        let a = identity();
        assert!(a.starts_with(&crate::hostname()), "{a}");
        assert_ne!(a, identity());
    }

    #[test]
    fn the_leader_gives_up_before_anyone_may_take_over() {
        let c = Config::new("a".into());
        assert!(c.renew_deadline < c.lease_duration);
        assert!(c.renew_every < c.renew_deadline);
    }
}
