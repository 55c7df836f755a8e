//! Restart back-off of a container, as kubelet's: the first restart is
//! immediate; after that a container that exits again waits 10 s, then
//! 20 s, 40 s… up to 5 min (reason `CrashLoopBackOff` meanwhile); a
//! container that ran for 10 minutes starts over.

use std::time::Duration;

pub const INITIAL: Duration = Duration::from_secs(10);
pub const MAX: Duration = Duration::from_secs(300);
/// A run at least this long resets the back-off.
pub const RESET_AFTER: Duration = Duration::from_secs(600);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// The current delay; `None` until the first restart.
    delay: Option<Duration>,
}

impl Backoff {
    /// How long to wait after an instance that ran for `ran` exited, and
    /// advances the back-off for the next time.
    pub fn next(&mut self, ran: Duration) -> Duration {
        if ran >= RESET_AFTER {
            self.delay = None;
        }
        let wait = self.delay.unwrap_or(Duration::ZERO);
        self.delay = Some(match self.delay {
            None => INITIAL,
            Some(d) => (d * 2).min(MAX),
        });
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immediate_then_doubling_capped_then_reset() {
        let mut b = Backoff::default();
        let short = Duration::from_secs(1);
        let waits: Vec<u64> = (0..8).map(|_| b.next(short).as_secs()).collect();
        assert_eq!(waits, vec![0, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(b.next(Duration::from_secs(600)), Duration::ZERO);
        assert_eq!(b.next(short), INITIAL);
    }
}
