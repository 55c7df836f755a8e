//! Who this server is, from its StatefulSet pod name: `web-2` is ordinal 2
//! of the set `web`. Ordinal 0 is the primary; every other ordinal is a
//! replica that clones from the ordinal before it and follows the primary,
//! both reached through their stable DNS names under the governing
//! (headless) Service: `web-0.web`, `web-1.web`, ...

/// This server's place in its StatefulSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The pod's name, e.g. `web-2`.
    pub pod: String,
    /// The StatefulSet's name, e.g. `web`.
    pub set: String,
    /// The pod's ordinal, e.g. 2: 0 is the primary.
    pub ordinal: u32,
    /// The governing Service, whose DNS names the pods' addresses.
    pub service: String,
    /// The port every member serves on.
    pub port: u16,
}

/// A pod name that is not `<set>-<ordinal>`; it holds the name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not the name of a StatefulSet pod (<set>-<ordinal>, e.g. web-0); set --pod-name or POD_NAME"
)]
pub struct NotAStatefulSetPod(pub String);

impl Identity {
    /// Reads the set and ordinal from a pod name as the StatefulSet
    /// controller makes them: everything before the last `-`, and the
    /// number after it.
    pub fn parse(pod: &str, service: &str, port: u16) -> Result<Identity, NotAStatefulSetPod> {
        let bad = || NotAStatefulSetPod(pod.to_string());
        let (set, ordinal) = pod.rsplit_once('-').ok_or_else(bad)?;
        if set.is_empty() || ordinal.is_empty() || !ordinal.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        Ok(Identity {
            pod: pod.to_string(),
            set: set.to_string(),
            ordinal: ordinal.parse().map_err(|_| bad())?,
            service: service.to_string(),
            port,
        })
    }

    /// Whether this server takes writes: ordinal 0 does, the others are
    /// read-only replicas.
    pub fn is_primary(&self) -> bool {
        self.ordinal == 0
    }

    /// The address of the member with `ordinal`: its stable DNS name
    /// (resolved through the pod's search path) and the port.
    pub(crate) fn peer(&self, ordinal: u32) -> String {
        format!("{}-{ordinal}.{}:{}", self.set, self.service, self.port)
    }

    /// The primary's address.
    pub fn primary(&self) -> String {
        self.peer(0)
    }

    /// The member a new replica clones from: the ordinal before it, which
    /// an OrderedReady StatefulSet has made Ready before creating this one.
    pub(crate) fn previous(&self) -> Option<String> {
        self.ordinal.checked_sub(1).map(|o| self.peer(o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_and_peers_come_from_the_pod_name() {
        let id = Identity::parse("web-2", "web", 7070).unwrap();
        assert_eq!((id.set.as_str(), id.ordinal), ("web", 2));
        assert!(!id.is_primary());
        assert_eq!(id.primary(), "web-0.web:7070");
        assert_eq!(id.previous().as_deref(), Some("web-1.web:7070"));

        let id = Identity::parse("my-kv-store-0", "kv", 80).unwrap();
        assert_eq!(id.set, "my-kv-store");
        assert!(id.is_primary());
        assert_eq!(id.previous(), None);
        assert_eq!(id.primary(), "my-kv-store-0.kv:80");
    }

    #[test]
    fn names_without_an_ordinal_are_refused() {
        for name in ["web", "web-", "-1", "web-a1", "web-1a", ""] {
            let err = Identity::parse(name, "web", 7070).unwrap_err();
            assert!(err.to_string().contains("set --pod-name"), "{name}: {err}");
        }
        assert!(Identity::parse("web-99999999999", "web", 1).is_err());
    }
}
