//! What a container may do as a container runtime decides it: its
//! capabilities, whether it may gain privileges, and which user it runs
//! as.
//!
//! The capability set follows containerd's CRI defaults (Docker's set of
//! fourteen), changed by `securityContext.capabilities.add/drop` and
//! widened to everything by `privileged`. It is enforced through the
//! bounding set: capabilities outside it are gone for the container and
//! every program it runs, whatever their file capabilities. A root
//! process then has exactly the set after `exec`; a non-root one has none
//! (no ambient capabilities), as under runc.
//!
//! [`Security::apply`] and [`Credentials::apply`] run in a child between
//! clone and `exec` (see [`super::launch`]): system calls only.

use k8s_openapi::api::core::v1::{Capabilities, PodSecurityContext, SecurityContext};

/// Capability names and numbers (linux/capability.h).
const NAMES: &[(&str, u32)] = &[
    ("CHOWN", 0),
    ("DAC_OVERRIDE", 1),
    ("DAC_READ_SEARCH", 2),
    ("FOWNER", 3),
    ("FSETID", 4),
    ("KILL", 5),
    ("SETGID", 6),
    ("SETUID", 7),
    ("SETPCAP", 8),
    ("LINUX_IMMUTABLE", 9),
    ("NET_BIND_SERVICE", 10),
    ("NET_BROADCAST", 11),
    ("NET_ADMIN", 12),
    ("NET_RAW", 13),
    ("IPC_LOCK", 14),
    ("IPC_OWNER", 15),
    ("SYS_MODULE", 16),
    ("SYS_RAWIO", 17),
    ("SYS_CHROOT", 18),
    ("SYS_PTRACE", 19),
    ("SYS_PACCT", 20),
    ("SYS_ADMIN", 21),
    ("SYS_BOOT", 22),
    ("SYS_NICE", 23),
    ("SYS_RESOURCE", 24),
    ("SYS_TIME", 25),
    ("SYS_TTY_CONFIG", 26),
    ("MKNOD", 27),
    ("LEASE", 28),
    ("AUDIT_WRITE", 29),
    ("AUDIT_CONTROL", 30),
    ("SETFCAP", 31),
    ("MAC_OVERRIDE", 32),
    ("MAC_ADMIN", 33),
    ("SYSLOG", 34),
    ("WAKE_ALARM", 35),
    ("BLOCK_SUSPEND", 36),
    ("AUDIT_READ", 37),
    ("PERFMON", 38),
    ("BPF", 39),
    ("CHECKPOINT_RESTORE", 40),
];

/// The set every container starts from (containerd's CRI default).
const DEFAULT: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// A set of capabilities as a bit mask (bit N = capability N).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapSet(pub u64);

impl CapSet {
    pub fn all() -> CapSet {
        CapSet(NAMES.iter().fold(0, |m, (_, n)| m | 1 << n))
    }

    pub fn default_set() -> CapSet {
        let mut set = CapSet(0);
        for name in DEFAULT {
            set.0 |= 1 << number(name).unwrap_or(0);
        }
        set
    }

    pub fn contains(&self, cap: u32) -> bool {
        cap < 64 && self.0 & (1 << cap) != 0
    }

    /// The names in the set, as Kubernetes writes them.
    #[cfg(test)]
    pub fn names(&self) -> Vec<&'static str> {
        NAMES
            .iter()
            .filter(|(_, n)| self.contains(*n))
            .map(|(name, _)| *name)
            .collect()
    }
}

/// A capability's number from its name, with or without `CAP_`, in any
/// case (containerd upper-cases and prefixes the names it is given).
fn number(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    NAMES.iter().find(|(n, _)| *n == bare).map(|(_, v)| *v)
}

/// The container's security as the runtime applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Security {
    pub privileged: bool,
    pub capabilities: CapSet,
    /// `allowPrivilegeEscalation: false`: setuid binaries and file
    /// capabilities grant nothing.
    pub no_new_privs: bool,
    pub read_only_root: bool,
}

impl Default for Security {
    fn default() -> Security {
        Security {
            privileged: false,
            capabilities: CapSet::default_set(),
            no_new_privs: false,
            read_only_root: false,
        }
    }
}

impl Security {
    /// From the container's security context; an unknown capability name
    /// is an error (`CreateContainerError`), as containerd refuses it.
    pub fn of(sc: Option<&SecurityContext>) -> Result<Security, String> {
        let privileged = sc.and_then(|s| s.privileged).unwrap_or(false);
        let capabilities = if privileged {
            CapSet::all()
        } else {
            adjust(
                CapSet::default_set(),
                sc.and_then(|s| s.capabilities.as_ref()),
            )?
        };
        Ok(Security {
            privileged,
            capabilities,
            no_new_privs: !privileged
                && sc.and_then(|s| s.allow_privilege_escalation) == Some(false),
            read_only_root: sc
                .and_then(|s| s.read_only_root_filesystem)
                .unwrap_or(false),
        })
    }

    /// Drops what the container may not have. Needs `CAP_SETPCAP`, so it
    /// runs before the credentials change.
    ///
    /// # Safety
    ///
    /// For a child before `exec`: system calls only.
    pub unsafe fn drop_capabilities(&self, last_cap: u32) -> std::io::Result<()> {
        // SAFETY: prctl and capset with plain integers and a stack struct.
        unsafe {
            for cap in 0..=last_cap.min(63) {
                if !self.capabilities.contains(cap)
                    && libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
            }
            // No ambient and no inheritable capabilities: a non-root
            // program gets none at exec.
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            );
            let mut header = CapHeader {
                version: LINUX_CAPABILITY_VERSION_3,
                pid: 0,
            };
            let mut data = [CapData::default(); 2];
            if libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            data[0].inheritable = 0;
            data[1].inheritable = 0;
            if libc::syscall(libc::SYS_capset, &header, data.as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// Sets `no_new_privs` when asked; the last step before `exec`.
    ///
    /// # Safety
    ///
    /// For a child before `exec`: system calls only.
    pub unsafe fn seal(&self) -> std::io::Result<()> {
        // SAFETY: prctl with integers.
        if self.no_new_privs && unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The highest capability this kernel knows.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// `add` then `drop`, with `ALL` meaning every capability (drop wins, as
/// containerd applies it).
fn adjust(mut set: CapSet, caps: Option<&Capabilities>) -> Result<CapSet, String> {
    let Some(caps) = caps else {
        return Ok(set);
    };
    for name in caps.add.iter().flatten() {
        if name.eq_ignore_ascii_case("ALL") {
            set = CapSet::all();
        } else {
            let n = number(name).ok_or_else(|| unknown(name))?;
            set.0 |= 1 << n;
        }
    }
    for name in caps.drop.iter().flatten() {
        if name.eq_ignore_ascii_case("ALL") {
            set = CapSet(0);
        } else {
            let n = number(name).ok_or_else(|| unknown(name))?;
            set.0 &= !(1 << n);
        }
    }
    Ok(set)
}

fn unknown(name: &str) -> String {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    format!("failed to generate security options: unknown capability {full:?}")
}

/// The user a container runs as, resolved to numbers.
#[derive(Debug, Clone, Copy)]
pub struct Credentials {
    pub user: Option<u32>,
    pub group: Option<u32>,
    groups: [u32; 32],
    ngroups: usize,
}

impl Credentials {
    pub fn new(user: Option<u32>, group: Option<u32>, supplemental: &[u32]) -> Credentials {
        let mut groups = [0u32; 32];
        let ngroups = supplemental.len().min(groups.len());
        groups[..ngroups].copy_from_slice(&supplemental[..ngroups]);
        Credentials {
            user,
            group: group.or(user.map(|_| 0)),
            groups,
            ngroups,
        }
    }

    pub fn supplemental(&self) -> &[u32] {
        &self.groups[..self.ngroups]
    }

    /// Drops to the container's user. The raw system calls, not glibc's
    /// wrappers: those signal every thread of the process to change all
    /// their credentials, and a child that shares the agent's memory (see
    /// [`super::launch`]) would signal the agent's threads.
    ///
    /// # Safety
    ///
    /// For a child before `exec`: system calls only.
    pub unsafe fn apply(&self) -> std::io::Result<()> {
        if self.user.is_none() && self.group.is_none() && self.ngroups == 0 {
            return Ok(());
        }
        let raw = |done: libc::c_long| {
            if done < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        // SAFETY: setgroups reads `ngroups` entries of our array; the others
        // take plain integers.
        unsafe {
            raw(libc::syscall(
                libc::SYS_setgroups,
                self.ngroups,
                self.groups.as_ptr(),
            ))?;
            if let Some(g) = self.group {
                raw(libc::syscall(libc::SYS_setresgid, g, g, g))?;
            }
            if let Some(u) = self.user {
                raw(libc::syscall(libc::SYS_setresuid, u, u, u))?;
            }
        }
        Ok(())
    }
}

/// `runAsUser`/`runAsGroup`/`runAsNonRoot` of the container, else the
/// pod's.
pub fn run_as(
    pod: Option<&PodSecurityContext>,
    container: Option<&SecurityContext>,
) -> (Option<i64>, Option<i64>, bool) {
    let user = container
        .and_then(|s| s.run_as_user)
        .or(pod.and_then(|s| s.run_as_user));
    let group = container
        .and_then(|s| s.run_as_group)
        .or(pod.and_then(|s| s.run_as_group));
    let non_root = container
        .and_then(|s| s.run_as_non_root)
        .or(pod.and_then(|s| s.run_as_non_root))
        .unwrap_or(false);
    (user, group, non_root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(add: &[&str], drop: &[&str]) -> SecurityContext {
        SecurityContext {
            capabilities: Some(Capabilities {
                add: Some(add.iter().map(|s| s.to_string()).collect()),
                drop: Some(drop.iter().map(|s| s.to_string()).collect()),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_default_set_is_containerds_fourteen() {
        let set = Security::of(None).unwrap().capabilities;
        assert_eq!(set.names().len(), 14);
        assert!(set.names().contains(&"NET_BIND_SERVICE"));
        assert!(!set.names().contains(&"SYS_ADMIN"));
        assert!(!set.names().contains(&"NET_ADMIN"));
    }

    #[test]
    fn add_and_drop_accept_names_with_or_without_cap_and_all() {
        let s = Security::of(Some(&caps(&["NET_ADMIN", "cap_sys_time"], &["KILL"]))).unwrap();
        let names = s.capabilities.names();
        assert!(names.contains(&"NET_ADMIN"));
        assert!(names.contains(&"SYS_TIME"));
        assert!(!names.contains(&"KILL"));
        let s = Security::of(Some(&caps(&["NET_BIND_SERVICE"], &["ALL"]))).unwrap();
        assert_eq!(s.capabilities, CapSet(0), "drop ALL wins over add");
        let s = Security::of(Some(&caps(&["ALL"], &[]))).unwrap();
        assert_eq!(s.capabilities, CapSet::all());
        let e = Security::of(Some(&caps(&["NOT_A_CAP"], &[]))).unwrap_err();
        assert!(e.contains("unknown capability \"CAP_NOT_A_CAP\""), "{e}");
    }

    #[test]
    fn privileged_has_everything_and_no_escalation_only_when_asked() {
        let sc = SecurityContext {
            privileged: Some(true),
            allow_privilege_escalation: Some(false),
            ..Default::default()
        };
        let s = Security::of(Some(&sc)).unwrap();
        assert_eq!(s.capabilities, CapSet::all());
        assert!(!s.no_new_privs);
        let sc = SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            ..Default::default()
        };
        let s = Security::of(Some(&sc)).unwrap();
        assert!(s.no_new_privs && s.read_only_root && !s.privileged);
        assert!(!Security::of(None).unwrap().no_new_privs);
    }

    #[test]
    fn the_container_overrides_the_pod() {
        let pod = PodSecurityContext {
            run_as_user: Some(1000),
            run_as_group: Some(1000),
            run_as_non_root: Some(true),
            ..Default::default()
        };
        let container = SecurityContext {
            run_as_user: Some(0),
            run_as_non_root: Some(false),
            ..Default::default()
        };
        assert_eq!(
            run_as(Some(&pod), Some(&container)),
            (Some(0), Some(1000), false)
        );
        assert_eq!(run_as(Some(&pod), None), (Some(1000), Some(1000), true));
        assert_eq!(run_as(None, None), (None, None, false));
    }
}
