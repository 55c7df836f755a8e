//! A container's image as the kubelet treats it: the pull policy (given, or
//! defaulted from the tag), the per-container pull back-off (10 s doubling
//! to 5 min), and the words of its events and waiting reasons. Pure; the
//! worker does the lookups and pulls ([`crate::images`]).

use std::time::Duration;

use k8s_openapi::api::core::v1::Container;
use ordinal_core::image_reference::Reference;

/// When to pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

/// The container's policy; without one (the API server defaults it, but a
/// pod from elsewhere may lack it), `Always` for `:latest` or no tag and
/// `IfNotPresent` otherwise.
pub(crate) fn pull_policy(container: &Container, reference: &Reference) -> PullPolicy {
    match container.image_pull_policy.as_deref() {
        Some("Always") => PullPolicy::Always,
        Some("Never") => PullPolicy::Never,
        Some("IfNotPresent") => PullPolicy::IfNotPresent,
        _ if reference.is_latest() => PullPolicy::Always,
        _ => PullPolicy::IfNotPresent,
    }
}

/// The pull back-off of one container's image.
pub(crate) const PULL_BACKOFF_INITIAL: Duration = Duration::from_secs(10);
pub(crate) const PULL_BACKOFF_MAX: Duration = Duration::from_secs(300);

/// The next wait after a failed pull, given the one before.
pub(crate) fn next_pull_backoff(previous: Option<Duration>) -> Duration {
    match previous {
        None => PULL_BACKOFF_INITIAL,
        Some(d) => (d * 2).min(PULL_BACKOFF_MAX),
    }
}

/// The texts of image events and waiting messages, as the kubelet writes
/// them.
pub mod text {
    use std::time::Duration;

    pub(crate) fn pulling(image: &str) -> String {
        format!("Pulling image {image:?}")
    }

    pub(crate) fn pulled(image: &str, pulling: Duration, waiting: Duration, size: u64) -> String {
        format!(
            "Successfully pulled image {image:?} in {} ({} including waiting). Image size: {size} bytes.",
            go_duration(pulling),
            go_duration(waiting),
        )
    }

    pub(crate) fn present(image: &str) -> String {
        format!("Container image {image:?} already present on machine")
    }

    pub(crate) fn never_pull(image: &str) -> String {
        format!("Container image {image:?} is not present with pull policy of Never")
    }

    pub(crate) fn failed(image: &str, error: &str) -> String {
        format!("Failed to pull image {image:?}: {error}")
    }

    pub(crate) fn back_off(image: &str) -> String {
        format!("Back-off pulling image {image:?}")
    }

    pub(crate) fn back_off_message(image: &str, error: &str) -> String {
        format!("Back-off pulling image {image:?}: ErrImagePull: {error}")
    }

    /// A duration as Go prints one truncated to milliseconds: `523ms`,
    /// `1.028s`, `2m3.5s`.
    pub fn go_duration(d: Duration) -> String {
        let ms = d.as_millis();
        if ms == 0 {
            return "0s".into();
        }
        if ms < 1000 {
            return format!("{ms}ms");
        }
        let (minutes, rest) = (ms / 60_000, ms % 60_000);
        let seconds = format!("{}.{:03}", rest / 1000, rest % 1000);
        let seconds = seconds.trim_end_matches('0').trim_end_matches('.');
        let (hours, minutes) = (minutes / 60, minutes % 60);
        match (hours, minutes) {
            (0, 0) => format!("{seconds}s"),
            (0, m) => format!("{m}m{seconds}s"),
            (h, m) => format!("{h}h{m}m{seconds}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(policy: Option<&str>) -> Container {
        Container {
            name: "c".into(),
            image_pull_policy: policy.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn the_default_policy_follows_the_tag() {
        let r = |s: &str| Reference::parse(s).unwrap();
        assert_eq!(
            pull_policy(&container(None), &r("busybox")),
            PullPolicy::Always
        );
        assert_eq!(
            pull_policy(&container(None), &r("busybox:latest")),
            PullPolicy::Always
        );
        assert_eq!(
            pull_policy(&container(None), &r("busybox:1.36")),
            PullPolicy::IfNotPresent
        );
        assert_eq!(
            pull_policy(&container(Some("Never")), &r("busybox")),
            PullPolicy::Never
        );
        assert_eq!(
            pull_policy(&container(Some("IfNotPresent")), &r("busybox:latest")),
            PullPolicy::IfNotPresent
        );
    }

    #[test]
    fn the_pull_back_off_doubles_from_ten_seconds_to_five_minutes() {
        let mut d = None;
        let mut waits = Vec::new();
        for _ in 0..7 {
            let next = next_pull_backoff(d);
            waits.push(next.as_secs());
            d = Some(next);
        }
        assert_eq!(waits, vec![10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn texts_read_as_the_kubelets() {
        assert_eq!(
            text::pulled(
                "busybox:1.36",
                Duration::from_millis(1028),
                Duration::from_millis(1530),
                2_155_320
            ),
            "Successfully pulled image \"busybox:1.36\" in 1.028s (1.53s including waiting). Image size: 2155320 bytes."
        );
        assert_eq!(text::go_duration(Duration::from_millis(523)), "523ms");
        assert_eq!(text::go_duration(Duration::from_millis(123_500)), "2m3.5s");
        assert_eq!(text::go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(text::go_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(
            text::never_pull("x:1"),
            "Container image \"x:1\" is not present with pull policy of Never"
        );
    }
}
