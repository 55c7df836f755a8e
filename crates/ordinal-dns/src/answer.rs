//! Answers from a [`Zone`] snapshot, following the record semantics of
//! CoreDNS's kubernetes plugin (the DNS every Kubernetes cluster runs):
//!
//! | name | records |
//! |---|---|
//! | `<svc>.<ns>.svc.<zone>` | A/AAAA: the cluster IP; for a headless Service the ready endpoints; CNAME for an ExternalName |
//! | `<endpoint>.<svc>.<ns>.svc.<zone>` | A/AAAA of the endpoint named by its hostname (or its dashed address) |
//! | `_<port>._<proto>.<svc>.<ns>.svc.<zone>` | SRV: the Service (or each ready endpoint of a headless one) on that named port, with its address as additional record |
//! | `<svc>.<ns>.svc.<zone>` (SRV) | SRV for every port |
//! | `<a-b-c-d>.<ns>.pod.<zone>` | A of the address in the name (CoreDNS's `pods insecure`) |
//! | reverse names | PTR of cluster IPs and endpoint addresses |
//! | `dns-version.<zone>` | TXT `1.1.0`, the schema version |
//!
//! Names that do not exist get NXDOMAIN, names that exist without records
//! of the asked type NOERROR with no answer; both carry the zone's SOA.
//! Every record lives [`TTL`] seconds. Reverse names the zone does not know
//! are not ours to answer ([`Lookup::NotOurs`]): they go upstream.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::model::{ServiceView, Zone};

/// CoreDNS's default TTL for the cluster zone.
pub const TTL: u32 = 5;
/// The version of the Kubernetes DNS schema served (`dns-version`).
pub const SCHEMA_VERSION: &str = "1.1.0";

/// An answer the zone gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    pub additionals: Vec<Record>,
    /// Whether the zone's SOA goes into the authority section (empty
    /// answers: NXDOMAIN and NODATA).
    pub soa: bool,
}

impl Answer {
    fn records(answers: Vec<Record>, additionals: Vec<Record>) -> Answer {
        let soa = answers.is_empty();
        Answer {
            rcode: ResponseCode::NoError,
            answers,
            additionals,
            soa,
        }
    }

    fn nodata() -> Answer {
        Answer::records(Vec::new(), Vec::new())
    }

    fn nxdomain() -> Answer {
        Answer {
            rcode: ResponseCode::NXDomain,
            answers: Vec::new(),
            additionals: Vec::new(),
            soa: true,
        }
    }
}

/// Whether the zone answers a question.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    Answer(Answer),
    /// Outside the zone: forward it.
    NotOurs,
}

/// The authority for one cluster domain.
#[derive(Debug, Clone)]
pub(crate) struct Authority {
    origin: Name,
    labels: usize,
    ttl: u32,
}

impl Authority {
    /// The authority for `domain` (`cluster.local`).
    pub fn new(domain: &str) -> Result<Authority, hickory_proto::ProtoError> {
        let mut origin = Name::from_ascii(domain.trim_end_matches('.'))?.to_lowercase();
        origin.set_fqdn(true);
        let labels = usize::from(origin.num_labels());
        Ok(Authority {
            origin,
            labels,
            ttl: TTL,
        })
    }

    /// A name under the zone, from relative labels (leftmost first).
    fn name(&self, labels: &[&str]) -> Name {
        let mut name = self.origin.clone();
        for label in labels.iter().rev() {
            name = name.prepend_label(*label).unwrap_or_else(|_| name.clone());
        }
        name
    }

    /// The zone's SOA record.
    pub fn soa(&self, zone: &Zone) -> Record {
        let soa = SOA::new(
            self.name(&["ns", "dns"]),
            self.name(&["hostmaster"]),
            zone.serial.max(1),
            7200,
            1800,
            86400,
            self.ttl,
        );
        Record::from_rdata(self.origin.clone(), self.ttl, RData::SOA(soa))
    }

    fn record(&self, name: &Name, data: RData) -> Record {
        Record::from_rdata(name.clone(), self.ttl, data)
    }

    fn address(&self, name: &Name, ip: IpAddr) -> Record {
        match ip {
            IpAddr::V4(v4) => self.record(name, RData::A(A(v4))),
            IpAddr::V6(v6) => self.record(name, RData::AAAA(AAAA(v6))),
        }
    }

    /// Answers a question about `qname` from `zone`.
    pub fn lookup(&self, zone: &Zone, qname: &Name, qtype: RecordType) -> Lookup {
        if !self.origin.zone_of(qname) {
            return self.reverse(zone, qname, qtype);
        }
        let labels: Vec<String> = qname
            .iter()
            .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
            .collect();
        let relative = labels.len().saturating_sub(self.labels);
        let rel: Vec<&str> = labels[..relative].iter().map(String::as_str).collect();
        Lookup::Answer(match rel.as_slice() {
            [] => self.apex(zone, qname, qtype),
            ["dns-version"] => match qtype {
                RecordType::TXT => Answer::records(
                    vec![self.record(qname, RData::TXT(TXT::new(vec![SCHEMA_VERSION.into()])))],
                    Vec::new(),
                ),
                _ => Answer::nodata(),
            },
            ["svc"] | ["pod"] | [_, "pod"] => Answer::nodata(),
            [ns, "svc"] if zone.namespaces.contains_key(*ns) => Answer::nodata(),
            [name, _, "pod"] => pod(self, qname, qtype, name),
            [svc, ns, "svc"] => match zone.service(ns, svc) {
                Some(view) => self.service(qname, qtype, view, svc, ns),
                None => Answer::nxdomain(),
            },
            [first, svc, ns, "svc"] => match zone.service(ns, svc) {
                None => Answer::nxdomain(),
                Some(view) => match first.strip_prefix('_') {
                    Some(proto) if view.has_protocol(proto) => Answer::nodata(),
                    Some(_) => Answer::nxdomain(),
                    None => self.endpoint(qname, qtype, view, first),
                },
            },
            [port, proto, svc, ns, "svc"] => {
                match (
                    port.strip_prefix('_'),
                    proto.strip_prefix('_'),
                    zone.service(ns, svc),
                ) {
                    (Some(port), Some(proto), Some(view)) => {
                        let records =
                            self.srv(view, svc, ns, |p| p.name == port && p.protocol == proto);
                        match (records, qtype) {
                            (None, _) => Answer::nxdomain(),
                            (Some((answers, additionals)), RecordType::SRV | RecordType::ANY) => {
                                let answers = answers
                                    .into_iter()
                                    .map(|mut r| {
                                        r.name = qname.clone();
                                        r
                                    })
                                    .collect();
                                Answer::records(answers, additionals)
                            }
                            (Some(_), _) => Answer::nodata(),
                        }
                    }
                    _ => Answer::nxdomain(),
                }
            }
            _ => Answer::nxdomain(),
        })
    }

    fn apex(&self, zone: &Zone, qname: &Name, qtype: RecordType) -> Answer {
        match qtype {
            RecordType::SOA => {
                let mut soa = self.soa(zone);
                soa.name = qname.clone();
                Answer::records(vec![soa], Vec::new())
            }
            RecordType::NS => Answer::records(
                vec![self.record(qname, RData::NS(NS(self.name(&["ns", "dns"]))))],
                Vec::new(),
            ),
            _ => Answer::nodata(),
        }
    }

    fn service(
        &self,
        qname: &Name,
        qtype: RecordType,
        view: &ServiceView,
        svc: &str,
        ns: &str,
    ) -> Answer {
        if let Some(target) = &view.info.external_name {
            return match Name::from_ascii(format!("{target}.")) {
                Ok(target) => Answer::records(
                    vec![self.record(qname, RData::CNAME(CNAME(target)))],
                    Vec::new(),
                ),
                Err(_) => Answer::nodata(),
            };
        }
        let ips: Vec<IpAddr> = if view.info.headless {
            let mut ips: Vec<IpAddr> = view.endpoints.iter().map(|e| e.ip).collect();
            ips.sort();
            ips.dedup();
            ips
        } else {
            view.info.cluster_ips.clone()
        };
        match qtype {
            RecordType::A | RecordType::AAAA | RecordType::ANY => {
                let wanted = |ip: &&IpAddr| match qtype {
                    RecordType::A => ip.is_ipv4(),
                    RecordType::AAAA => ip.is_ipv6(),
                    _ => true,
                };
                let answers = ips
                    .iter()
                    .filter(wanted)
                    .map(|ip| self.address(qname, *ip))
                    .collect();
                Answer::records(answers, Vec::new())
            }
            RecordType::SRV => match self.srv(view, svc, ns, |_| true) {
                Some((answers, additionals)) => {
                    let answers = answers
                        .into_iter()
                        .map(|mut r| {
                            r.name = qname.clone();
                            r
                        })
                        .collect();
                    Answer::records(answers, additionals)
                }
                None => Answer::nodata(),
            },
            _ => Answer::nodata(),
        }
    }

    /// SRV records of the ports `matches` picks, with the targets'
    /// addresses; `None` when no port matches.
    fn srv(
        &self,
        view: &ServiceView,
        svc: &str,
        ns: &str,
        matches: impl Fn(&crate::model::Port) -> bool,
    ) -> Option<(Vec<Record>, Vec<Record>)> {
        let service_name = self.name(&[svc, ns, "svc"]);
        let mut targets: Vec<(Name, u16, Vec<IpAddr>)> = Vec::new();
        let mut any_port = false;
        if view.info.headless {
            any_port = view.info.ports.iter().any(&matches);
            for e in &view.endpoints {
                for p in e.ports.iter().filter(|p| matches(p)) {
                    any_port = true;
                    targets.push((self.name(&[&e.label, svc, ns, "svc"]), p.port, vec![e.ip]));
                }
            }
        } else {
            for p in view.info.ports.iter().filter(|p| matches(p)) {
                any_port = true;
                targets.push((service_name.clone(), p.port, view.info.cluster_ips.clone()));
            }
        }
        if !any_port {
            return None;
        }
        let weight = u16::try_from(100 / targets.len().max(1)).unwrap_or(100);
        let mut answers = Vec::with_capacity(targets.len());
        let mut additionals = Vec::new();
        for (target, port, ips) in targets {
            answers.push(self.record(
                &service_name,
                RData::SRV(SRV::new(0, weight, port, target.clone())),
            ));
            for ip in ips {
                let extra = self.address(&target, ip);
                if !additionals.contains(&extra) {
                    additionals.push(extra);
                }
            }
        }
        Some((answers, additionals))
    }

    fn endpoint(&self, qname: &Name, qtype: RecordType, view: &ServiceView, label: &str) -> Answer {
        let ips: Vec<IpAddr> = view
            .endpoints
            .iter()
            .filter(|e| e.label == label)
            .map(|e| e.ip)
            .collect();
        if ips.is_empty() {
            return Answer::nxdomain();
        }
        let answers = ips
            .into_iter()
            .filter(|ip| match qtype {
                RecordType::A => ip.is_ipv4(),
                RecordType::AAAA => ip.is_ipv6(),
                RecordType::ANY => true,
                _ => false,
            })
            .map(|ip| self.address(qname, ip))
            .collect();
        Answer::records(answers, Vec::new())
    }

    /// PTR answers for addresses the zone knows; anything else is not
    /// ours.
    fn reverse(&self, zone: &Zone, qname: &Name, qtype: RecordType) -> Lookup {
        if qtype != RecordType::PTR {
            return Lookup::NotOurs;
        }
        let Ok(net) = qname.parse_arpa_name() else {
            return Lookup::NotOurs;
        };
        if net.prefix_len() != net.max_prefix_len() {
            return Lookup::NotOurs;
        }
        let names = zone.names_of(net.addr());
        if names.is_empty() {
            return Lookup::NotOurs;
        }
        let answers = names
            .iter()
            .map(|(key, label)| {
                let target = match label.as_str() {
                    "" => self.name(&[&key.name, &key.namespace, "svc"]),
                    label => self.name(&[label, &key.name, &key.namespace, "svc"]),
                };
                self.record(qname, RData::PTR(PTR(target)))
            })
            .collect();
        Lookup::Answer(Answer::records(answers, Vec::new()))
    }
}

impl ServiceView {
    fn has_protocol(&self, proto: &str) -> bool {
        self.info.ports.iter().any(|p| p.protocol == proto)
            || self
                .endpoints
                .iter()
                .any(|e| e.ports.iter().any(|p| p.protocol == proto))
    }
}

/// `1-2-3-4.<ns>.pod.<zone>`: the address in the name.
fn pod(authority: &Authority, qname: &Name, qtype: RecordType, label: &str) -> Answer {
    let ip: Option<IpAddr> = label
        .replace('-', ".")
        .parse::<Ipv4Addr>()
        .map(IpAddr::V4)
        .ok()
        .or_else(|| {
            label
                .replace('-', ":")
                .parse::<Ipv6Addr>()
                .map(IpAddr::V6)
                .ok()
        });
    let Some(ip) = ip else {
        return Answer::nxdomain();
    };
    let fits = match qtype {
        RecordType::A => ip.is_ipv4(),
        RecordType::AAAA => ip.is_ipv6(),
        RecordType::ANY => true,
        _ => false,
    };
    if fits {
        Answer::records(vec![authority.address(qname, ip)], Vec::new())
    } else {
        Answer::nodata()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Model;
    use crate::model::fixtures::*;

    fn authority() -> Authority {
        Authority::new("cluster.local").unwrap()
    }

    fn ask(zone: &Zone, name: &str, qtype: RecordType) -> Answer {
        match authority().lookup(zone, &Name::from_ascii(name).unwrap(), qtype) {
            Lookup::Answer(a) => a,
            Lookup::NotOurs => panic!("{name} is ours"),
        }
    }

    fn data(answer: &Answer) -> Vec<String> {
        answer.answers.iter().map(|r| r.data.to_string()).collect()
    }

    /// A cluster: `web` headless with web-0 ready, web-1 ready, web-2 not;
    /// `api` with a cluster IP and two named ports; `ext` an ExternalName.
    fn cluster() -> std::sync::Arc<Zone> {
        let m = Model::new();
        m.apply_service("default", "web", headless(&[("http", "tcp", 80)]));
        m.apply_slice(
            "default",
            "web-x",
            Some(slice(
                "web",
                &[("http", "tcp", 8080)],
                &[
                    ("10.244.0.5", Some("web-0"), true),
                    ("10.244.0.6", Some("web-1"), true),
                    ("10.244.0.7", Some("web-2"), false),
                ],
            )),
        );
        m.apply_service(
            "default",
            "api",
            cluster_ip("10.96.0.10", &[("https", "tcp", 443), ("dns", "udp", 53)]),
        );
        m.apply_service(
            "default",
            "ext",
            crate::model::ServiceInfo {
                external_name: Some("example.com".into()),
                ..Default::default()
            },
        );
        m.zone()
    }

    #[test]
    fn a_cluster_ip_service_resolves_to_its_address() {
        let z = cluster();
        let a = ask(&z, "api.default.svc.cluster.local.", RecordType::A);
        assert_eq!(a.rcode, ResponseCode::NoError);
        assert_eq!(data(&a), ["10.96.0.10"]);
        assert_eq!(a.answers[0].ttl, TTL);
        let aaaa = ask(&z, "api.default.svc.cluster.local.", RecordType::AAAA);
        assert!(aaaa.answers.is_empty() && aaaa.soa && aaaa.rcode == ResponseCode::NoError);
        // Case does not matter, and the answer echoes the question's name.
        let upper = ask(&z, "API.Default.SVC.cluster.local.", RecordType::A);
        assert_eq!(
            upper.answers[0].name.to_ascii(),
            "API.Default.SVC.cluster.local."
        );
    }

    #[test]
    fn a_headless_service_resolves_to_its_ready_endpoints() {
        let z = cluster();
        let a = ask(&z, "web.default.svc.cluster.local.", RecordType::A);
        assert_eq!(data(&a), ["10.244.0.5", "10.244.0.6"]);
        let one = ask(&z, "web-1.web.default.svc.cluster.local.", RecordType::A);
        assert_eq!(data(&one), ["10.244.0.6"]);
        let unready = ask(&z, "web-2.web.default.svc.cluster.local.", RecordType::A);
        assert_eq!(unready.rcode, ResponseCode::NXDomain);
    }

    #[test]
    fn srv_records_name_the_port_and_its_targets() {
        let z = cluster();
        let a = ask(
            &z,
            "_https._tcp.api.default.svc.cluster.local.",
            RecordType::SRV,
        );
        assert_eq!(data(&a), ["0 100 443 api.default.svc.cluster.local."]);
        assert_eq!(a.additionals[0].data.to_string(), "10.96.0.10");
        let web = ask(
            &z,
            "_http._tcp.web.default.svc.cluster.local.",
            RecordType::SRV,
        );
        assert_eq!(
            data(&web),
            [
                "0 50 8080 web-0.web.default.svc.cluster.local.",
                "0 50 8080 web-1.web.default.svc.cluster.local."
            ]
        );
        assert_eq!(web.additionals.len(), 2);
        let all = ask(&z, "api.default.svc.cluster.local.", RecordType::SRV);
        assert_eq!(all.answers.len(), 2);
        let none = ask(
            &z,
            "_nope._tcp.api.default.svc.cluster.local.",
            RecordType::SRV,
        );
        assert_eq!(none.rcode, ResponseCode::NXDomain);
        let ent = ask(&z, "_udp.api.default.svc.cluster.local.", RecordType::A);
        assert_eq!((ent.rcode, ent.answers.len()), (ResponseCode::NoError, 0));
    }

    #[test]
    fn missing_names_are_nxdomain_and_empty_non_terminals_nodata() {
        let z = cluster();
        for name in [
            "nope.default.svc.cluster.local.",
            "web.nope.svc.cluster.local.",
            "x.y.z.web.default.svc.cluster.local.",
            "nope.cluster.local.",
            "nope.svc.cluster.local.",
            "not-an-ip.default.pod.cluster.local.",
        ] {
            let a = ask(&z, name, RecordType::A);
            assert_eq!(a.rcode, ResponseCode::NXDomain, "{name}");
            assert!(a.soa);
        }
        for name in [
            "cluster.local.",
            "svc.cluster.local.",
            "default.svc.cluster.local.",
        ] {
            let a = ask(&z, name, RecordType::A);
            assert_eq!(
                (a.rcode, a.answers.len(), a.soa),
                (ResponseCode::NoError, 0, true),
                "{name}"
            );
        }
        let soa = ask(&z, "cluster.local.", RecordType::SOA);
        assert!(
            soa.answers[0]
                .data
                .to_string()
                .starts_with("ns.dns.cluster.local. hostmaster.cluster.local.")
        );
    }

    #[test]
    fn pod_names_carry_their_address() {
        let z = cluster();
        let a = ask(&z, "10-244-0-9.default.pod.cluster.local.", RecordType::A);
        assert_eq!(data(&a), ["10.244.0.9"]);
        let v6 = ask(&z, "fd00--9.default.pod.cluster.local.", RecordType::AAAA);
        assert_eq!(data(&v6), ["fd00::9"]);
    }

    #[test]
    fn external_names_are_cnames() {
        let z = cluster();
        let a = ask(&z, "ext.default.svc.cluster.local.", RecordType::A);
        assert_eq!(data(&a), ["example.com."]);
        assert_eq!(a.answers[0].record_type(), RecordType::CNAME);
    }

    #[test]
    fn reverse_lookups_name_services_and_endpoints_and_leave_the_rest() {
        let z = cluster();
        let auth = authority();
        let ptr = |ip: &str| {
            auth.lookup(
                &z,
                &Name::from(ip.parse::<IpAddr>().unwrap()),
                RecordType::PTR,
            )
        };
        match ptr("10.96.0.10") {
            Lookup::Answer(a) => assert_eq!(data(&a), ["api.default.svc.cluster.local."]),
            other => panic!("{other:?}"),
        }
        match ptr("10.244.0.5") {
            Lookup::Answer(a) => assert_eq!(data(&a), ["web-0.web.default.svc.cluster.local."]),
            other => panic!("{other:?}"),
        }
        assert_eq!(ptr("192.0.2.1"), Lookup::NotOurs);
        let outside = auth.lookup(
            &z,
            &Name::from_ascii("example.com.").unwrap(),
            RecordType::A,
        );
        assert_eq!(outside, Lookup::NotOurs);
    }

    #[test]
    fn the_schema_version_is_published() {
        let z = cluster();
        let a = ask(&z, "dns-version.cluster.local.", RecordType::TXT);
        assert_eq!(data(&a), ["1.1.0"]);
    }

    proptest::proptest! {
        /// Whatever the name, a lookup answers (never panics), and an
        /// empty answer always carries the SOA.
        #[test]
        fn any_name_gets_a_well_formed_answer(labels in proptest::collection::vec("[a-z0-9_-]{1,20}", 0..8)) {
            let z = cluster();
            let mut text = labels.join(".");
            text.push_str(if text.is_empty() { "cluster.local." } else { ".cluster.local." });
            if let Ok(name) = Name::from_ascii(&text) {
                for t in [RecordType::A, RecordType::AAAA, RecordType::SRV, RecordType::PTR, RecordType::TXT] {
                    if let Lookup::Answer(a) = authority().lookup(&z, &name, t) {
                        proptest::prop_assert!(!a.answers.is_empty() || a.soa);
                    }
                }
            }
        }
    }
}
