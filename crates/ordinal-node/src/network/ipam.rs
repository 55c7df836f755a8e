//! Pod addresses: an IPv4 range and a round-robin allocator over it.
//!
//! Round robin rather than lowest-free: a pod that comes back gets a new
//! address, as on a real cluster, and a name cached by a client for a few
//! seconds never points at a different pod that happened to get the old
//! address at once.

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 range such as `10.192.0.0/20`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub fn new(address: Ipv4Addr, prefix: u8) -> Option<Cidr> {
        if prefix > 30 {
            return None;
        }
        let mask = u32::MAX.checked_shl(32 - prefix as u32).unwrap_or(0);
        Some(Cidr {
            network: Ipv4Addr::from(u32::from(address) & mask),
            prefix,
        })
    }

    fn size(&self) -> u32 {
        1u32 << (32 - self.prefix as u32)
    }

    /// The first host address: the bridge's, the pods' gateway.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let start = u32::from(self.network);
        let ip = u32::from(ip);
        ip >= start && ip - start < self.size()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a CIDR such as 10.192.0.0/20"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| format!("{prefix:?} is not a prefix length"))?;
        Cidr::new(addr, prefix).ok_or_else(|| format!("{s}: the prefix must be at most /30"))
    }
}

/// Hands out the host addresses of a range (not the network address, the
/// gateway or the broadcast address).
pub struct Ipam {
    cidr: Cidr,
    next: u32,
    used: HashMap<String, Ipv4Addr>,
    taken: std::collections::HashSet<Ipv4Addr>,
}

impl Ipam {
    pub fn new(cidr: Cidr) -> Ipam {
        Ipam {
            cidr,
            next: 2,
            used: HashMap::new(),
            taken: Default::default(),
        }
    }

    /// The owner's address: the one it has, or the next free one.
    pub fn allocate(&mut self, owner: &str) -> Option<Ipv4Addr> {
        if let Some(ip) = self.used.get(owner) {
            return Some(*ip);
        }
        let hosts = self.cidr.size() - 3; // network, gateway, broadcast
        for _ in 0..hosts {
            let offset = self.next;
            self.next = if self.next + 1 >= self.cidr.size() - 1 {
                2
            } else {
                self.next + 1
            };
            let ip = Ipv4Addr::from(u32::from(self.cidr.network) + offset);
            if self.taken.insert(ip) {
                self.used.insert(owner.to_string(), ip);
                return Some(ip);
            }
        }
        None
    }

    pub fn release(&mut self, owner: &str) {
        if let Some(ip) = self.used.remove(owner) {
            self.taken.remove(&ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_and_normalise() {
        let c: Cidr = "10.192.3.7/20".parse().unwrap();
        assert_eq!(c.to_string(), "10.192.0.0/20");
        assert_eq!(c.gateway(), Ipv4Addr::new(10, 192, 0, 1));
        assert!("10.0.0.0/31".parse::<Cidr>().is_err());
        assert!("nonsense".parse::<Cidr>().is_err());
    }

    #[test]
    fn round_robin_skips_reserved_and_in_use() {
        let mut ipam = Ipam::new("10.0.0.0/29".parse().unwrap()); // hosts .2-.6
        let got: Vec<_> = (0..5)
            .map(|i| ipam.allocate(&format!("p{i}")).unwrap())
            .collect();
        assert_eq!(got[0], Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(got[4], Ipv4Addr::new(10, 0, 0, 6));
        assert_eq!(ipam.allocate("full"), None);
        ipam.release("p1");
        assert_eq!(ipam.allocate("again"), Some(Ipv4Addr::new(10, 0, 0, 3)));
        assert_eq!(ipam.allocate("p0"), Some(Ipv4Addr::new(10, 0, 0, 2)));
    }

    proptest! {
        #[test]
        fn addresses_are_unique_and_in_range(ops in proptest::collection::vec((0u8..20, any::<bool>()), 0..200)) {
            let cidr: Cidr = "10.1.0.0/27".parse().unwrap();
            let mut ipam = Ipam::new(cidr);
            for (owner, alloc) in ops {
                let owner = format!("o{owner}");
                if alloc { ipam.allocate(&owner); } else { ipam.release(&owner); }
                let ips: Vec<_> = ipam.used.values().copied().collect();
                let unique: std::collections::HashSet<_> = ips.iter().collect();
                prop_assert_eq!(unique.len(), ips.len());
                for ip in ips {
                    prop_assert!(cidr.contains(ip));
                    prop_assert!(ip != cidr.network && ip != cidr.gateway());
                    prop_assert!(u32::from(ip) != u32::from(cidr.network) + 31);
                }
            }
        }
    }
}
