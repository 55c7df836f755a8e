//! The pod network of one ordinal instance: a Linux bridge owned by the
//! instance, an address range for its pods, and one veth pair per pod.
//!
//! Several `ordinal up` on one machine (tests run them in parallel) must
//! never collide, so each instance first claims a *slot* (`slot`): a
//! number held through an exclusive lock for the life of the process. The
//! slot names the bridge (`ordinal<N>`), the veths (`o<N>x<hash>`) and, by
//! default, the pod range (a /20 of 10.192.0.0/12). A bridge left behind by
//! an instance that was killed is recognised by its free slot and replaced.
//!
//! The host end of each veth sits on the bridge; the other end is `eth0`
//! in the pod's network namespace, with the pod's address and a default
//! route through the bridge, whose address is the pods' gateway (and where
//! the cluster DNS listens for them).
//!
//! Everything is done over rtnetlink in-process: one request makes the
//! veth pair with its host end on the bridge and its pod end already in the
//! pod's namespace; a netlink socket opened inside that namespace then sets
//! the address, the links up and the route. No `ip` process per pod.

pub mod ipam;
mod slot;

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::Mutex;

use futures::TryStreamExt;
use rtnetlink::packet_route::link::{InfoData, InfoVeth};
use rtnetlink::packet_route::neighbour::NeighbourState;
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};

use ipam::Ipam;
pub use ipnet::Ipv4Net;
use slot::Slot;

/// The network of one instance.
pub struct Network {
    slot: Slot,
    /// The bridge's link name, `ordinal<slot>`.
    pub bridge: String,
    /// The pod range pods' addresses are allocated from.
    pub cidr: Ipv4Net,
    /// The bridge's address: the pods' default route, and the node's
    /// address as pods see it.
    pub gateway: Ipv4Addr,
    ipam: Mutex<Ipam>,
    netlink: Handle,
    bridge_index: u32,
}

/// Why the network could not be set up, or a pod not attached.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// Claiming a slot, or entering or opening a namespace, failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("netlink: {what}: {error}")]
    /// The kernel refused a link, address or route change.
    Netlink {
        /// What was being done (`creating the bridge ordinal0`).
        what: String,
        /// The kernel's answer.
        error: rtnetlink::Error,
    },
    /// Every address of the pod range is taken.
    #[error("the pod range {0} is full")]
    Full(Ipv4Net),
}

fn netlink(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> NetworkError {
    let what = what.into();
    move |error| NetworkError::Netlink { what, error }
}

/// A netlink connection in this thread's current network namespace, its
/// I/O driven on the runtime.
fn connect() -> io::Result<Handle> {
    let (connection, handle, _) = rtnetlink::new_connection()?;
    tokio::spawn(connection);
    Ok(handle)
}

/// The index of link `name`, if it exists.
async fn index_of(handle: &Handle, name: &str) -> Result<Option<u32>, NetworkError> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(link) => Ok(link.map(|l| l.header.index)),
        // ENODEV: no such link.
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => Ok(None),
        Err(e) => Err(netlink(format!("looking up {name}"))(e)),
    }
}

impl Network {
    /// Claims a slot, then makes the bridge with the gateway address.
    /// `cidr` overrides the slot's default pod range; `max_pods` sizes the
    /// kernel's neighbour table.
    pub(crate) async fn setup(
        cidr: Option<Ipv4Net>,
        max_pods: u32,
    ) -> Result<Network, NetworkError> {
        let slot = Slot::claim()?;
        let cidr = cidr.unwrap_or_else(|| slot.default_cidr());
        let bridge = format!("ordinal{}", slot.number());
        let handle = connect()?;
        // Bridges whose slot nobody holds (ours included) belong to
        // instances that were killed: remove them with all on them.
        for stale in stale_bridges(slot.number()) {
            if let Some(index) = index_of(&handle, &stale).await? {
                let _ = handle.link().del(index).execute().await;
            }
        }
        let gateway = ipam::gateway(&cidr);
        handle
            .link()
            .add(
                LinkBridge::new(&bridge)
                    .address(mac_of(gateway).to_vec())
                    .build(),
            )
            .execute()
            .await
            .map_err(netlink(format!("creating the bridge {bridge}")))?;
        let bridge_index = index_of(&handle, &bridge)
            .await?
            .ok_or_else(|| io::Error::other(format!("the bridge {bridge} vanished")))?;
        handle
            .address()
            .add(bridge_index, gateway.into(), cidr.prefix_len())
            .execute()
            .await
            .map_err(netlink(format!("giving {bridge} the address {gateway}")))?;
        // Service traffic from a pod to a pod is routed through the host.
        let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1");
        raise_neighbour_limits(max_pods);
        Ok(Network {
            ipam: Mutex::new(Ipam::new(cidr)),
            slot,
            bridge,
            cidr,
            gateway,
            netlink: handle,
            bridge_index,
        })
    }

    /// The instance slot this network holds: it numbers the bridge, the
    /// veths and the proxy's table, apart from other instances'.
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

    /// Gives the pod whose network namespace `netns` is (the namespace
    /// file of its pause process, `/proc/PID/ns/net`) an address and a
    /// route out through the bridge.
    pub(crate) async fn attach(
        &self,
        uid: &str,
        netns: BorrowedFd<'_>,
    ) -> Result<Ipv4Addr, NetworkError> {
        let address = {
            let mut ipam = self.ipam.lock().unwrap_or_else(|p| p.into_inner());
            ipam.allocate(uid).ok_or(NetworkError::Full(self.cidr))?
        };
        let veth = self.veth(uid);
        let began = std::time::Instant::now();
        let result = self.wire(&veth, netns, address).await;
        tracing::debug!(
            uid,
            took_ms = began.elapsed().as_secs_f64() * 1e3,
            "pod network attached"
        );
        match result {
            Ok(()) => Ok(address),
            Err(e) => {
                if let Ok(Some(index)) = index_of(&self.netlink, &veth).await {
                    let _ = self.netlink.link().del(index).execute().await;
                }
                self.release(uid).await;
                Err(e)
            }
        }
    }

    async fn wire(
        &self,
        veth: &str,
        netns: BorrowedFd<'_>,
        address: Ipv4Addr,
    ) -> Result<(), NetworkError> {
        // The pair, in one request: `eth0` born in the pod's namespace,
        // the host end on the bridge and up.
        let peer = LinkMessageBuilder::<LinkUnspec>::new()
            .name("eth0".to_string())
            .address(mac_of(address).to_vec())
            .setns_by_fd(netns.as_raw_fd())
            .build();
        let pair = LinkVeth::new(veth, "eth0")
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
            .controller(self.bridge_index)
            .build();
        self.netlink
            .link()
            .add(pair)
            .execute()
            .await
            .map_err(netlink(format!("creating the veth {veth}")))?;
        // No IPv6 on the host end before it comes up (the pod's end was
        // born without it, see the pause process): a link-local address on
        // each of a thousand bridge ports means duplicate address detection
        // and multicast reports flooded to all of them.
        let ipv6 = format!("/proc/sys/net/ipv6/conf/{veth}/disable_ipv6");
        if let Err(e) = std::fs::write(&ipv6, "1") {
            tracing::debug!(veth, error = %e, "cannot turn IPv6 off on the veth");
        }
        self.netlink
            .link()
            .set(LinkUnspec::new_with_name(veth).up().build())
            .execute()
            .await
            .map_err(netlink(format!("setting the veth {veth} up")))?;
        // A pod that reaches itself through a Service (DNAT to its own
        // address) gets its packet back out of the port it came in on;
        // when the bridge's traffic passes netfilter (br_netfilter), that
        // is a hairpin, which a bridge port refuses unless told (kubelet's
        // hairpin-veth mode does the same).
        let hairpin = format!("/sys/class/net/{veth}/brport/hairpin_mode");
        if let Err(e) = std::fs::write(&hairpin, "1") {
            tracing::debug!(veth, error = %e, "cannot set hairpin mode");
        }
        // Inside the pod: a netlink socket opened in its namespace.
        let inside = open_in(netns)?;
        let eth0 = index_of(&inside, "eth0")
            .await?
            .ok_or_else(|| io::Error::other("eth0 did not appear in the pod"))?;
        let lo = index_of(&inside, "lo").await?.unwrap_or(1);
        inside
            .address()
            .add(eth0, address.into(), self.cidr.prefix_len())
            .execute()
            .await
            .map_err(netlink(format!("giving eth0 the address {address}")))?;
        for index in [lo, eth0] {
            inside
                .link()
                .set(LinkUnspec::new_with_index(index).up().build())
                .execute()
                .await
                .map_err(netlink("setting the pod's links up"))?;
        }
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .gateway(self.gateway)
            .build();
        inside
            .route()
            .add(route)
            .execute()
            .await
            .map_err(netlink("adding the pod's default route"))?;
        // Static neighbours both ways, so the host and the pod never ARP
        // for each other: an ARP request is a broadcast that every pod on
        // the bridge receives and processes, and with a thousand pods
        // probed every few seconds those were a large share of the
        // kernel's work. The MACs follow from the addresses (`mac_of`).
        inside
            .neighbours()
            .add(eth0, self.gateway.into())
            .link_layer_address(&mac_of(self.gateway))
            .state(NeighbourState::Permanent)
            .replace()
            .execute()
            .await
            .map_err(netlink("adding the gateway to the pod's neighbours"))?;
        self.netlink
            .neighbours()
            .add(self.bridge_index, address.into())
            .link_layer_address(&mac_of(address))
            .state(NeighbourState::Permanent)
            .replace()
            .execute()
            .await
            .map_err(netlink(format!(
                "adding {address} to the host's neighbours"
            )))?;
        Ok(())
    }

    /// Returns the pod's address to the pool and forgets its neighbour
    /// entry. (Its veth went with its network namespace.)
    pub(crate) async fn release(&self, uid: &str) {
        let address = self
            .ipam
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .release(uid);
        if let Some(address) = address {
            let mut entry = self
                .netlink
                .neighbours()
                .add(self.bridge_index, address.into());
            let message = entry.message_mut().clone();
            let _ = self.netlink.neighbours().del(message).execute().await;
        }
    }

    /// Removes the bridge (on shutdown).
    pub(crate) async fn teardown(&self) {
        let _ = self.netlink.link().del(self.bridge_index).execute().await;
    }
}

/// The MAC of a pod's `eth0` (or of the bridge, for the gateway): fixed
/// by the address, locally administered (`0a:58` and the four bytes, as
/// Kubernetes' bridge networks do), so a static neighbour entry is right
/// for whichever pod holds the address.
fn mac_of(address: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = address.octets();
    [0x0a, 0x58, a, b, c, d]
}

/// A netlink connection whose socket lives in the network namespace
/// `netns`: opened by a thread that enters the namespace for the moment of
/// `socket(2)` and leaves it again (a socket stays in the namespace it was
/// made in).
fn open_in(netns: BorrowedFd<'_>) -> io::Result<Handle> {
    let own = std::fs::File::open("/proc/thread-self/ns/net")?;
    let target = netns.as_raw_fd();
    let runtime = tokio::runtime::Handle::current();
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // The socket registers with this runtime's reactor.
                let _runtime = runtime.enter();
                // SAFETY: setns on descriptors we hold, on a thread of our
                // own that goes back before it ends.
                if unsafe { libc::setns(target, libc::CLONE_NEWNET) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                let (connection, handle, _) = rtnetlink::new_connection().inspect_err(|_| {
                    // SAFETY: back to our own namespace, as below.
                    unsafe { libc::setns(own.as_raw_fd(), libc::CLONE_NEWNET) };
                })?;
                // SAFETY: a descriptor we hold, on this thread of our own.
                if unsafe { libc::setns(own.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    // The thread ends here anyway; nothing else runs on it.
                    return Err(io::Error::last_os_error());
                }
                Ok((connection, handle))
            })
            .join()
            .map_err(|_| io::Error::other("the netlink thread panicked"))?
    })
    .map(|(connection, handle)| {
        tokio::spawn(connection);
        handle
    })
}

/// The kernel's ARP table is one table for every network namespace, and
/// by default it starts dropping entries at 512 and refuses new ones at
/// 1,024 ("neighbor table overflow"): with a few hundred pods, the host's
/// entry for each pod plus each pod's entry for the gateway pass that, and
/// probes and service traffic to pods start failing. So the thresholds are
/// raised (never lowered) to what `max_pods` pods need, as nodes that run
/// many pods are tuned.
fn raise_neighbour_limits(max_pods: u32) {
    let need = neighbour_entries(max_pods);
    for (name, wanted) in [
        ("gc_thresh1", need),
        ("gc_thresh2", need.saturating_mul(2)),
        ("gc_thresh3", need.saturating_mul(4)),
    ] {
        let path = format!("/proc/sys/net/ipv4/neigh/default/{name}");
        let current = std::fs::read_to_string(&path)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok());
        if current.is_some_and(|c| c < wanted) {
            match std::fs::write(&path, wanted.to_string()) {
                Ok(()) => tracing::info!(name, wanted, "raised the ARP table limit"),
                Err(e) => tracing::warn!(name, error = %e, "cannot raise the ARP table limit"),
            }
        }
    }
}

/// ARP entries `max_pods` pods need at most: one on the host for each pod,
/// one in each pod for its gateway (and a peer or two), and room for the
/// host's own.
fn neighbour_entries(max_pods: u32) -> u64 {
    u64::from(max_pods) * 2 + 1024
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
