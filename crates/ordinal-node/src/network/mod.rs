//! The pod network of one ordinal instance: a Linux bridge owned by the
//! instance, an address range for its pods, and one veth pair per pod.
//!
//! Several `ordinal up` on one machine (tests run them in parallel) must
//! never collide, so each instance first claims a *slot* ([`slot`]): a
//! number held through an exclusive lock for the life of the process. The
//! slot names the bridge (`ordinal<N>`), the veths (`o<N>x<hash>`) and, by
//! default, the pod range (a /20 of 10.192.0.0/12). A bridge left behind by
//! an instance that was killed is recognised by its free slot and replaced.
//!
//! The host end of each veth sits on the bridge; the other end is `eth0`
//! in the pod's network namespace, with the pod's address and a default
//! route through the bridge, whose address is the pods' gateway (and where
//! the cluster DNS listens for them).

pub mod ipam;
pub mod slot;

use std::io;
use std::net::Ipv4Addr;
use std::sync::Mutex;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use ipam::Ipam;
pub use ipnet::Ipv4Net;
use slot::Slot;

/// The network of one instance.
pub struct Network {
    slot: Slot,
    pub bridge: String,
    pub cidr: Ipv4Net,
    pub gateway: Ipv4Addr,
    ipam: Mutex<Ipam>,
}

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("`ip {args}` failed: {stderr}")]
    Ip { args: String, stderr: String },
    #[error("the pod range {0} is full")]
    Full(Ipv4Net),
}

impl Network {
    /// Claims a slot, then makes the bridge with the gateway address.
    /// `cidr` overrides the slot's default pod range.
    pub async fn setup(cidr: Option<Ipv4Net>) -> Result<Network, NetworkError> {
        let slot = Slot::claim()?;
        let cidr = cidr.unwrap_or_else(|| slot.default_cidr());
        let bridge = format!("ordinal{}", slot.number());
        // Bridges whose slot nobody holds (ours included) belong to
        // instances that were killed: remove them with all on them.
        for stale in stale_bridges(slot.number()) {
            let _ = ip(&["link", "del", &stale]).await;
        }
        let gateway = ipam::gateway(&cidr);
        ip(&["link", "add", &bridge, "type", "bridge"]).await?;
        ip(&[
            "addr",
            "add",
            &format!("{gateway}/{}", cidr.prefix_len()),
            "dev",
            &bridge,
        ])
        .await?;
        ip(&["link", "set", &bridge, "up"]).await?;
        // Service traffic from a pod to a pod is routed through the host.
        let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1");
        Ok(Network {
            ipam: Mutex::new(Ipam::new(cidr)),
            slot,
            bridge,
            cidr,
            gateway,
        })
    }

    pub fn slot(&self) -> u32 {
        self.slot.number()
    }

    /// The host-side name of a pod's veth.
    fn veth(&self, uid: &str) -> String {
        // FNV-1a: stable, and 32 bits keep the name within IFNAMSIZ.
        let mut h: u32 = 0x811c_9dc5;
        for b in uid.bytes() {
            h ^= b as u32;
            h = h.wrapping_mul(0x0100_0193);
        }
        format!("o{}x{h:08x}", self.slot.number())
    }

    /// Gives the pod whose network namespace `pid` holds an address and a
    /// route out through the bridge.
    pub async fn attach(&self, uid: &str, pid: u32) -> Result<Ipv4Addr, NetworkError> {
        let address = {
            let mut ipam = self.ipam.lock().unwrap_or_else(|p| p.into_inner());
            ipam.allocate(uid).ok_or(NetworkError::Full(self.cidr))?
        };
        let veth = self.veth(uid);
        let began = std::time::Instant::now();
        let result = async {
            batch(
                None,
                &format!(
                    "link add {veth} type veth peer name eth0 netns {pid}\n\
                     link set {veth} master {bridge} up\n",
                    bridge = self.bridge
                ),
            )
            .await?;
            batch(
                Some(pid),
                &format!(
                    "addr add {address}/{prefix} dev eth0\n\
                     link set eth0 up\n\
                     link set lo up\n\
                     route add default via {gateway}\n",
                    prefix = self.cidr.prefix_len(),
                    gateway = self.gateway
                ),
            )
            .await
        }
        .await;
        tracing::debug!(
            uid,
            took_ms = began.elapsed().as_secs_f64() * 1e3,
            "pod network attached"
        );
        match result {
            Ok(()) => Ok(address),
            Err(e) => {
                let _ = ip(&["link", "del", &veth]).await;
                self.release(uid);
                Err(e)
            }
        }
    }

    /// Returns the pod's address to the pool. (Its veth went with its
    /// network namespace.)
    pub fn release(&self, uid: &str) {
        self.ipam
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .release(uid);
    }

    /// Removes the bridge (on shutdown).
    pub async fn teardown(&self) {
        let _ = ip(&["link", "del", &self.bridge]).await;
    }
}

/// Bridges named `ordinal<N>` of free slots, and ours if it exists.
fn stale_bridges(ours: u32) -> Vec<String> {
    let Ok(links) = std::fs::read_dir("/sys/class/net") else {
        return Vec::new();
    };
    links
        .flatten()
        .filter_map(|l| l.file_name().to_str().map(str::to_string))
        .filter(|name| {
            match name
                .strip_prefix("ordinal")
                .and_then(|n| n.parse::<u32>().ok())
            {
                Some(n) => n == ours || Slot::is_free(n),
                None => false,
            }
        })
        .collect()
}

/// Runs `ip` with arguments.
async fn ip(args: &[&str]) -> Result<(), NetworkError> {
    let out = Command::new("ip").args(args).output().await?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NetworkError::Ip {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Runs `ip -batch -` on the host or, with `pid`, in that process's
/// network namespace.
async fn batch(pid: Option<u32>, script: &str) -> Result<(), NetworkError> {
    let mut command = match pid {
        None => Command::new("ip"),
        Some(pid) => {
            let mut c = Command::new("nsenter");
            c.arg(format!("--net=/proc/{pid}/ns/net")).arg("ip");
            c
        }
    };
    command
        .args(["-batch", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes()).await?;
    }
    let out = child.wait_with_output().await?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NetworkError::Ip {
            args: format!("-batch ({})", script.lines().next().unwrap_or("")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}
