//! Instance slots: a small number that keeps concurrent ordinal instances'
//! host-level names (bridge, veths) and default pod ranges apart.
//!
//! Slot N is held by an exclusive `flock` on `/run/ordinal/slot-N.lock`
//! for the life of the process; the kernel releases it however the process
//! ends, so a crashed instance never holds a slot.

use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::Path;

use ipnet::Ipv4Net;

/// How many instances can run at once on one machine.
pub const SLOTS: u32 = 256;
const DIR: &str = "/run/ordinal";

pub struct Slot {
    number: u32,
    _lock: File,
}

impl Slot {
    /// Claims the lowest free slot.
    pub fn claim() -> io::Result<Slot> {
        Slot::claim_in(Path::new(DIR))
    }

    fn claim_in(dir: &Path) -> io::Result<Slot> {
        std::fs::create_dir_all(dir)?;
        for number in 0..SLOTS {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir.join(format!("slot-{number}.lock")))?;
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(Slot {
                    number,
                    _lock: file,
                });
            }
        }
        Err(io::Error::other(format!(
            "all {SLOTS} ordinal network slots are in use on this machine"
        )))
    }

    /// Whether slot `number` is free right now (nobody holds its lock).
    pub fn is_free(number: u32) -> bool {
        Slot::is_free_in(Path::new(DIR), number)
    }

    fn is_free_in(dir: &Path, number: u32) -> bool {
        let Ok(file) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("slot-{number}.lock")))
        else {
            return false;
        };
        // SAFETY: flock on a descriptor we own; closing it releases.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
    }

    pub fn number(&self) -> u32 {
        self.number
    }

    /// Slot N's pods: the Nth /20 of 10.192.0.0/12.
    pub fn default_cidr(&self) -> Ipv4Net {
        let base = u32::from(Ipv4Addr::new(10, 192, 0, 0)) + (self.number << 12);
        Ipv4Net::new(Ipv4Addr::from(base), 20).expect("a /20 is a valid range")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_claims_get_distinct_slots_and_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let a = Slot::claim_in(dir.path()).unwrap();
        let b = Slot::claim_in(dir.path()).unwrap();
        assert_ne!(a.number(), b.number());
        assert_eq!(a.default_cidr().to_string(), "10.192.0.0/20");
        assert_eq!(b.default_cidr().to_string(), "10.192.16.0/20");
        let n = a.number();
        drop(a);
        assert!(Slot::is_free_in(dir.path(), n));
        assert!(!Slot::is_free_in(dir.path(), b.number()));
        let c = Slot::claim_in(dir.path()).unwrap();
        assert_eq!(c.number(), n, "a released slot is claimed again");
        let last = Slot {
            number: SLOTS - 1,
            _lock: File::open("/dev/null").unwrap(),
        };
        assert_eq!(last.default_cidr().to_string(), "10.207.240.0/20");
    }
}
