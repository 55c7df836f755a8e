//! Pod addresses: an IPv4 range and a round-robin allocator over it.
//!
//! Round robin rather than lowest-free: a pod that comes back gets a new
//! address, as on a real cluster, and a name cached by a client for a few
//! seconds never points at a different pod that happened to get the old
//! address at once.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// The first host address of a range: the bridge's, the pods' gateway.
pub(crate) fn gateway(range: &Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(range.network()) + 1)
}

/// Parses a pod range (`10.192.0.0/20`): host bits are dropped, and it must
/// leave room for a gateway and pods (at most /30).
pub fn parse_range(s: &str) -> Result<Ipv4Net, String> {
    let net: Ipv4Net = s
        .parse()
        .map_err(|_| format!("{s:?} is not an IPv4 CIDR such as 10.192.0.0/20"))?;
    if net.prefix_len() > 30 {
        return Err(format!("{s}: the prefix must be at most /30"));
    }
    Ok(net.trunc())
}

fn size(range: &Ipv4Net) -> u32 {
    1u32 << (32 - range.prefix_len() as u32)
}

/// Hands out the host addresses of a range (not the network address, the
/// gateway or the broadcast address).
pub(crate) struct Ipam {
    cidr: Ipv4Net,
    next: u32,
    used: HashMap<String, Ipv4Addr>,
    taken: std::collections::HashSet<Ipv4Addr>,
}

impl Ipam {
    pub fn new(cidr: Ipv4Net) -> Ipam {
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
        let hosts = size(&self.cidr) - 3; // network, gateway, broadcast
        for _ in 0..hosts {
            let offset = self.next;
            self.next = if self.next + 1 >= size(&self.cidr) - 1 {
                2
            } else {
                self.next + 1
            };
            let ip = Ipv4Addr::from(u32::from(self.cidr.network()) + offset);
            if self.taken.insert(ip) {
                self.used.insert(owner.to_string(), ip);
                return Some(ip);
            }
        }
        None
    }

    /// Returns the owner's address to the pool; says which it was.
    pub fn release(&mut self, owner: &str) -> Option<Ipv4Addr> {
        let ip = self.used.remove(owner)?;
        self.taken.remove(&ip);
        Some(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_and_normalise() {
        let c = parse_range("10.192.3.7/20").unwrap();
        assert_eq!(c.to_string(), "10.192.0.0/20");
        assert_eq!(gateway(&c), Ipv4Addr::new(10, 192, 0, 1));
        assert!(parse_range("10.0.0.0/31").is_err());
        assert!(parse_range("nonsense").is_err());
    }

    #[test]
    fn round_robin_skips_reserved_and_in_use() {
        let mut ipam = Ipam::new(parse_range("10.0.0.0/29").unwrap()); // hosts .2-.6
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
            let cidr = parse_range("10.1.0.0/27").unwrap();
            let mut ipam = Ipam::new(cidr);
            for (owner, alloc) in ops {
                let owner = format!("o{owner}");
                if alloc { ipam.allocate(&owner); } else { ipam.release(&owner); }
                let ips: Vec<_> = ipam.used.values().copied().collect();
                let unique: std::collections::HashSet<_> = ips.iter().collect();
                prop_assert_eq!(unique.len(), ips.len());
                for ip in ips {
                    prop_assert!(cidr.contains(&ip));
                    prop_assert!(ip != cidr.network() && ip != gateway(&cidr));
                    prop_assert!(u32::from(ip) != u32::from(cidr.network()) + 31);
                }
            }
        }
    }
}
