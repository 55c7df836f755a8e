//! What the node reports about the machine: capacity, system info and the
//! pressure conditions, read from /proc, /sys and statvfs.

use std::path::Path;

/// Capacity and allocatable of the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub cpus: u32,
    pub memory_bytes: u64,
    pub storage_bytes: u64,
    pub max_pods: u32,
}

/// The machine now: what the pressure conditions are judged from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub memory_available: u64,
    pub storage_available: u64,
    pub storage_total: u64,
    pub pids: u64,
    pub pid_max: u64,
}

/// kubelet's default hard eviction thresholds, which its pressure
/// conditions mirror.
pub const MEMORY_AVAILABLE_MIN: u64 = 100 * 1024 * 1024;
pub const STORAGE_AVAILABLE_MIN_PERCENT: u64 = 10;

fn meminfo(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

fn statvfs(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into the struct it is given.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path we own, and that struct.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    let block = s.f_frsize as u64;
    Some((s.f_blocks as u64 * block, s.f_bavail as u64 * block))
}

pub fn capacity(data_dir: &Path, max_pods: u32) -> Capacity {
    Capacity {
        cpus: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
        memory_bytes: meminfo("MemTotal").unwrap_or(0),
        storage_bytes: statvfs(data_dir).map(|(t, _)| t).unwrap_or(0),
        max_pods,
    }
}

pub fn usage(data_dir: &Path) -> Usage {
    let (total, available) = statvfs(data_dir).unwrap_or((0, 0));
    let pids = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .count() as u64
        })
        .unwrap_or(0);
    let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(32768);
    Usage {
        memory_available: meminfo("MemAvailable").unwrap_or(u64::MAX),
        storage_available: available,
        storage_total: total,
        pids,
        pid_max,
    }
}

impl Usage {
    pub fn memory_pressure(&self) -> bool {
        self.memory_available < MEMORY_AVAILABLE_MIN
    }
    pub fn disk_pressure(&self) -> bool {
        self.storage_total > 0
            && self.storage_available * 100 < self.storage_total * STORAGE_AVAILABLE_MIN_PERCENT
    }
    pub fn pid_pressure(&self) -> bool {
        self.pids * 10 > self.pid_max * 9
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The node's `status.nodeInfo` fields.
pub struct Info {
    pub machine_id: String,
    pub system_uuid: String,
    pub boot_id: String,
    pub kernel_version: String,
    pub os_image: String,
    pub architecture: String,
}

pub fn info() -> Info {
    let machine_id = read("/etc/machine-id");
    let uuid = read("/sys/class/dmi/id/product_uuid");
    let os_image = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".into());
    Info {
        system_uuid: if uuid.is_empty() {
            machine_id.clone()
        } else {
            uuid
        },
        machine_id,
        boot_id: read("/proc/sys/kernel/random/boot_id"),
        kernel_version: read("/proc/sys/kernel/osrelease"),
        os_image,
        architecture: match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            other => other,
        }
        .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_has_sane_numbers() {
        let c = capacity(Path::new("/"), 110);
        assert!(c.cpus >= 1);
        assert!(c.memory_bytes > 64 * 1024 * 1024);
        assert!(c.storage_bytes > 0);
        let u = usage(Path::new("/"));
        assert!(u.pids > 1 && u.pid_max >= u.pids);
        assert!(!info().kernel_version.is_empty());
    }

    #[test]
    fn pressure_thresholds() {
        let calm = Usage {
            memory_available: 1 << 30,
            storage_available: 50,
            storage_total: 100,
            pids: 10,
            pid_max: 100,
        };
        assert!(!calm.memory_pressure() && !calm.disk_pressure() && !calm.pid_pressure());
        let tight = Usage {
            memory_available: 10 << 20,
            storage_available: 5,
            storage_total: 100,
            pids: 95,
            pid_max: 100,
        };
        assert!(tight.memory_pressure() && tight.disk_pressure() && tight.pid_pressure());
    }
}
