//! The files kubelet manages inside every pod: `/etc/hosts` (the pod's own
//! name and FQDN, hostAliases), `/etc/resolv.conf` (from dnsPolicy and
//! dnsConfig) and `/etc/hostname`.

use std::fmt::Write;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::Pod;

/// Where the cluster DNS is and what it serves, for resolv.conf.
#[derive(Debug, Clone)]
pub struct Dns {
    /// The cluster DNS server as pods reach it; `None` when the node has
    /// none (host mode), in which case ClusterFirst falls back to the host.
    pub server: Option<IpAddr>,
    pub domain: String,
    /// The host's resolv.conf, for dnsPolicy Default.
    pub host_resolv_conf: String,
}

/// The hostname and, with a subdomain, the FQDN of a pod.
pub fn names(pod: &Pod, domain: &str) -> (String, Option<String>) {
    let spec = pod.spec.as_ref();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let hostname = spec
        .and_then(|s| s.hostname.clone())
        .filter(|h| !h.is_empty())
        .unwrap_or(name);
    let hostname: String = hostname.chars().take(63).collect();
    let fqdn = spec
        .and_then(|s| s.subdomain.as_deref())
        .filter(|s| !s.is_empty())
        .map(|sub| {
            let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
            format!("{hostname}.{sub}.{ns}.svc.{domain}")
        });
    (hostname, fqdn)
}

/// The hostname the pod's UTS namespace gets (the FQDN with
/// setHostnameAsFQDN).
pub fn uts_hostname(pod: &Pod, domain: &str) -> String {
    let (hostname, fqdn) = names(pod, domain);
    let as_fqdn = pod
        .spec
        .as_ref()
        .and_then(|s| s.set_hostname_as_fqdn)
        .unwrap_or(false);
    match (as_fqdn, fqdn) {
        (true, Some(f)) => f,
        _ => hostname,
    }
}

pub fn hosts(pod: &Pod, ip: IpAddr, domain: &str) -> String {
    let (hostname, fqdn) = names(pod, domain);
    let mut out = String::from(
        "# Kubernetes-managed hosts file.\n\
         127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         fe00::0\tip6-mcastprefix\n\
         fe00::1\tip6-allnodes\n\
         fe00::2\tip6-allrouters\n",
    );
    match fqdn {
        Some(fqdn) => {
            let _ = writeln!(out, "{ip}\t{fqdn}\t{hostname}");
        }
        None => {
            let _ = writeln!(out, "{ip}\t{hostname}");
        }
    }
    let aliases = pod.spec.as_ref().and_then(|s| s.host_aliases.as_ref());
    if let Some(aliases) = aliases.filter(|a| !a.is_empty()) {
        out.push_str("\n# Entries added by HostAliases.\n");
        for alias in aliases {
            let names = alias.hostnames.clone().unwrap_or_default().join("\t");
            let _ = writeln!(out, "{}\t{names}", alias.ip);
        }
    }
    out
}

/// resolv.conf as kubelet writes it for the pod's dnsPolicy.
pub fn resolv_conf(pod: &Pod, dns: &Dns) -> String {
    let spec = pod.spec.as_ref();
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    let policy = spec
        .and_then(|s| s.dns_policy.as_deref())
        .unwrap_or("ClusterFirst");
    let (host_servers, host_search, host_options) = parse(&dns.host_resolv_conf);
    let cluster = |servers: &mut Vec<String>,
                   search: &mut Vec<String>,
                   options: &mut Vec<String>| match dns.server {
        Some(server) => {
            *servers = vec![server.to_string()];
            *search = vec![
                format!("{ns}.svc.{}", dns.domain),
                format!("svc.{}", dns.domain),
                dns.domain.clone(),
            ];
            search.extend(host_search.iter().cloned());
            *options = vec!["ndots:5".to_string()];
        }
        None => {
            *servers = host_servers.clone();
            *search = host_search.clone();
            *options = host_options.clone();
        }
    };
    let (mut servers, mut search, mut options) = (Vec::new(), Vec::new(), Vec::new());
    match policy {
        "None" => {}
        "Default" => {
            servers = host_servers.clone();
            search = host_search.clone();
            options = host_options.clone();
        }
        "ClusterFirstWithHostNet" => cluster(&mut servers, &mut search, &mut options),
        // ClusterFirst: a host-network pod falls back to the host's.
        _ if host_network => {
            servers = host_servers.clone();
            search = host_search.clone();
            options = host_options.clone();
        }
        _ => cluster(&mut servers, &mut search, &mut options),
    }
    if let Some(config) = spec.and_then(|s| s.dns_config.as_ref()) {
        for s in config.nameservers.iter().flatten() {
            if !servers.contains(s) {
                servers.push(s.clone());
            }
        }
        for s in config.searches.iter().flatten() {
            if !search.contains(s) {
                search.push(s.clone());
            }
        }
        for o in config.options.iter().flatten() {
            let rendered = match &o.value {
                Some(v) => format!("{}:{v}", o.name.clone().unwrap_or_default()),
                None => o.name.clone().unwrap_or_default(),
            };
            let key = o.name.clone().unwrap_or_default();
            options.retain(|existing| existing.split(':').next() != Some(key.as_str()));
            options.push(rendered);
        }
    }
    servers.truncate(3);
    search.truncate(32);
    let mut out = String::new();
    if !search.is_empty() {
        let _ = writeln!(out, "search {}", search.join(" "));
    }
    for s in &servers {
        let _ = writeln!(out, "nameserver {s}");
    }
    if !options.is_empty() {
        let _ = writeln!(out, "options {}", options.join(" "));
    }
    out
}

fn parse(text: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut servers, mut search, mut options) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => servers.extend(words.next().map(str::to_string)),
            Some("search") | Some("domain") => search = words.map(str::to_string).collect(),
            Some("options") => options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    (servers, search, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(yaml: &str) -> Pod {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn dns() -> Dns {
        Dns {
            server: Some("10.192.0.1".parse().unwrap()),
            domain: "cluster.local".into(),
            host_resolv_conf: "nameserver 1.1.1.1\nsearch corp.example\noptions edns0\n".into(),
        }
    }

    #[test]
    fn hosts_name_the_pod_and_its_fqdn() {
        let p = pod(
            "metadata: {name: web-0, namespace: shop}\nspec: {subdomain: web, containers: [], hostAliases: [{ip: 10.1.2.3, hostnames: [a, b]}]}",
        );
        let text = hosts(&p, "10.192.0.7".parse().unwrap(), "cluster.local");
        assert!(text.starts_with("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"));
        assert!(
            text.contains("10.192.0.7\tweb-0.web.shop.svc.cluster.local\tweb-0\n"),
            "{text}"
        );
        assert!(
            text.ends_with("# Entries added by HostAliases.\n10.1.2.3\ta\tb\n"),
            "{text}"
        );
        let plain = pod("metadata: {name: solo}\nspec: {containers: []}");
        assert!(
            hosts(&plain, "10.0.0.9".parse().unwrap(), "cluster.local")
                .ends_with("10.0.0.9\tsolo\n")
        );
    }

    #[test]
    fn resolv_conf_per_policy() {
        let p = pod("metadata: {name: a, namespace: shop}\nspec: {containers: []}");
        assert_eq!(
            resolv_conf(&p, &dns()),
            "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.192.0.1\noptions ndots:5\n"
        );
        let d = pod("metadata: {name: a}\nspec: {dnsPolicy: Default, containers: []}");
        assert_eq!(
            resolv_conf(&d, &dns()),
            "search corp.example\nnameserver 1.1.1.1\noptions edns0\n"
        );
        let n = pod(
            "metadata: {name: a}\nspec: {dnsPolicy: None, dnsConfig: {nameservers: [9.9.9.9], searches: [x.y], options: [{name: ndots, value: '2'}, {name: rotate}]}, containers: []}",
        );
        assert_eq!(
            resolv_conf(&n, &dns()),
            "search x.y\nnameserver 9.9.9.9\noptions ndots:2 rotate\n"
        );
        let merged = pod(
            "metadata: {name: a, namespace: ns}\nspec: {dnsConfig: {options: [{name: ndots, value: '1'}]}, containers: []}",
        );
        assert!(resolv_conf(&merged, &dns()).ends_with("options ndots:1\n"));
    }

    #[test]
    fn hostname_as_fqdn() {
        let p = pod(
            "metadata: {name: web-1, namespace: default}\nspec: {subdomain: web, setHostnameAsFQDN: true, containers: []}",
        );
        assert_eq!(
            uts_hostname(&p, "cluster.local"),
            "web-1.web.default.svc.cluster.local"
        );
        let q = pod("metadata: {name: web-1}\nspec: {hostname: custom, containers: []}");
        assert_eq!(uts_hostname(&q, "cluster.local"), "custom");
    }
}
