//! Image references as users write them in pod specs (`busybox`,
//! `registry.k8s.io/pause:3.10`, `127.0.0.1:5000/app@sha256:…`), parsed and
//! normalized the way the kubelet does before it asks a runtime for an
//! image: Docker Hub is the default registry, its official images live
//! under `library/`, and a reference without tag or digest means `latest`.
//!
//! The grammar and the error wording follow the distribution project's
//! reference package (which the kubelet vendors), because the kubelet puts
//! its error text into the `InvalidImageName` event users read.
//!
//! ```
//! use ordinal_core::image_reference::Reference;
//! let r = Reference::parse("busybox").unwrap();
//! assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
//! assert!(r.is_latest());
//! ```

use std::fmt;

/// Docker Hub's canonical name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// The longest repository path the grammar accepts.
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// A normalized image reference: always with a registry and a full
/// repository path; tag and digest as written (both may be present).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// A reference the grammar refuses. Its `Display` is the message the
/// kubelet shows in the `InvalidImageName` event and container state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidReference {
    input: String,
    reason: String,
}

impl InvalidReference {
    fn new(input: &str, reason: impl Into<String>) -> Self {
        InvalidReference {
            input: input.to_string(),
            reason: reason.into(),
        }
    }

    /// The reference as it was written.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// Only the grammar's complaint, e.g. `invalid reference format`.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for InvalidReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Failed to apply default image tag {:?}: couldn't parse image name {:?}: {}",
            self.input, self.input, self.reason
        )
    }
}

impl std::error::Error for InvalidReference {}

const INVALID_FORMAT: &str = "invalid reference format";

impl Reference {
    /// Parses and normalizes `s` as the kubelet does.
    pub fn parse(s: &str) -> Result<Reference, InvalidReference> {
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(InvalidReference::new(
                s,
                format!(
                    "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
                ),
            ));
        }
        let (domain, remainder) = split_domain(s);
        let remote = remainder.split(':').next().unwrap_or_default();
        if remote.to_lowercase() != remote {
            return Err(InvalidReference::new(
                s,
                format!("invalid reference format: repository name ({remote}) must be lowercase"),
            ));
        }
        parse_full(domain, &remainder).map_err(|reason| InvalidReference::new(s, reason))
    }

    /// Builds a reference from parts already known to be valid (a stored
    /// name), checking them again all the same.
    pub fn from_parts(
        registry: &str,
        repository: &str,
        tag: Option<&str>,
        digest: Option<&str>,
    ) -> Result<Reference, InvalidReference> {
        let mut s = format!("{registry}/{repository}");
        if let Some(t) = tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = digest {
            s.push('@');
            s.push_str(d);
        }
        Reference::parse(&s)
    }

    /// The registry host (with port), `docker.io` for Docker Hub.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path, `library/busybox` for an official image.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag as written, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest as written (`sha256:…`), if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// Whether the user pinned a version; the kubelet's default pull
    /// policy is `Always` when they did not, or pinned `latest`.
    pub fn has_explicit_tag_or_digest(&self) -> bool {
        self.tag.is_some() || self.digest.is_some()
    }

    /// Tag `latest`, or neither tag nor digest (which means `latest`).
    pub fn is_latest(&self) -> bool {
        match (&self.tag, &self.digest) {
            (Some(t), _) => t == "latest",
            (None, None) => true,
            (None, Some(_)) => false,
        }
    }

    /// `registry/repository`, the name without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The name with the tag (defaulted to `latest` when there is
    /// neither tag nor digest); `None` for a digest-only reference.
    pub fn tagged_name(&self) -> Option<String> {
        match (&self.tag, &self.digest) {
            (Some(t), _) => Some(format!("{}:{t}", self.name())),
            (None, None) => Some(format!("{}:latest", self.name())),
            (None, Some(_)) => None,
        }
    }

    /// `registry/repository@digest` when a digest is given.
    pub fn digested_name(&self) -> Option<String> {
        self.digest.as_ref().map(|d| format!("{}@{d}", self.name()))
    }

    /// The same name with `digest` instead of any tag.
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: None,
            digest: Some(digest.to_string()),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        match (&self.tag, &self.digest) {
            (None, None) => write!(f, ":latest"),
            (tag, digest) => {
                if let Some(t) = tag {
                    write!(f, ":{t}")?;
                }
                if let Some(d) = digest {
                    write!(f, "@{d}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::str::FromStr for Reference {
    type Err = InvalidReference;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// Splits the registry from the rest as Docker does: the first path
/// element is a registry when it looks like a host (has a dot or a
/// colon, is `localhost`, or has capitals, which repositories may not).
fn split_domain(name: &str) -> (&str, String) {
    let Some((first, rest)) = name.split_once('/') else {
        return (DOCKER_HUB, format!("library/{name}"));
    };
    let (domain, remote) =
        if first == "localhost" || first.contains(['.', ':']) || first.to_lowercase() != first {
            (
                if first == "index.docker.io" {
                    DOCKER_HUB
                } else {
                    first
                },
                rest,
            )
        } else {
            (DOCKER_HUB, name)
        };
    if domain == DOCKER_HUB && !remote.contains('/') {
        (domain, format!("library/{remote}"))
    } else {
        (domain, remote.to_string())
    }
}

/// Checks `domain/remainder` against the reference grammar.
fn parse_full(domain: &str, remainder: &str) -> Result<Reference, String> {
    let (name_tag, digest) = match remainder.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (remainder, None),
    };
    let (path, tag) = match name_tag.rfind(':') {
        Some(i) if !name_tag[i..].contains('/') => (&name_tag[..i], Some(&name_tag[i + 1..])),
        _ => (name_tag, None),
    };
    if !valid_domain(domain) || path.is_empty() || !path.split('/').all(valid_path_component) {
        return Err(INVALID_FORMAT.to_string());
    }
    if let Some(t) = tag
        && !valid_tag(t)
    {
        return Err(INVALID_FORMAT.to_string());
    }
    if let Some(d) = digest {
        if !digest_shape(d) {
            return Err(INVALID_FORMAT.to_string());
        }
        check_digest(d)?;
    }
    if path.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(format!(
            "repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        ));
    }
    Ok(Reference {
        registry: domain.to_string(),
        repository: path.to_string(),
        tag: tag.map(str::to_string),
        digest: digest.map(str::to_string),
    })
}

/// `host[:port]` where host is dotted DNS-like labels or `[ipv6]`.
fn valid_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.is_empty() || !v6.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return false;
        }
        match after.strip_prefix(':') {
            Some(p) => ("", Some(p)),
            None if after.is_empty() => ("", None),
            None => return false,
        }
    } else {
        match d.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    if d.starts_with('[') {
        return true;
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

/// `[a-z0-9]+` runs joined by one `.`, one `_`, `__`, or any number of `-`.
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`.
fn valid_tag(t: &str) -> bool {
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

/// `algorithm:hex` with at least 32 hex digits, as the grammar requires
/// before the digest itself is checked.
fn digest_shape(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else {
        return false;
    };
    let alg_ok = alg.split(['-', '_', '+', '.']).all(|part| {
        let b = part.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
    });
    alg_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The digest package's own checks, with its messages.
fn check_digest(d: &str) -> Result<(), String> {
    let (alg, hex) = d.split_once(':').unwrap_or((d, ""));
    let len = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err("unsupported digest algorithm".to_string()),
    };
    if hex.len() != len {
        return Err("invalid checksum digest length".to_string());
    }
    if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err("invalid checksum digest format".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa";

    fn norm(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn docker_hub_is_the_default_and_official_images_live_under_library() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(
            norm("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            norm("index.docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(norm("bitnami/redis:7"), "docker.io/bitnami/redis:7");
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.repository(), "library/busybox");
        assert_eq!(r.tag(), None);
    }

    #[test]
    fn hosts_ports_and_localhost() {
        let r = Reference::parse("127.0.0.1:5000/app").unwrap();
        assert_eq!((r.registry(), r.repository()), ("127.0.0.1:5000", "app"));
        assert_eq!(norm("localhost/app:v1"), "localhost/app:v1");
        assert_eq!(
            norm("registry.k8s.io/pause:3.10"),
            "registry.k8s.io/pause:3.10"
        );
        assert_eq!(norm("[::1]:5000/a/b"), "[::1]:5000/a/b:latest");
        // No dot, no colon, lowercase: a Docker Hub namespace, not a host.
        assert_eq!(norm("myhost/app"), "docker.io/myhost/app:latest");
        // `localhost:5000` alone is a name with a tag.
        assert_eq!(norm("localhost:5000"), "docker.io/library/localhost:5000");
    }

    #[test]
    fn digests_and_tags_together() {
        let r = Reference::parse(&format!("busybox@{D}")).unwrap();
        assert_eq!(r.digest(), Some(D));
        assert!(!r.is_latest());
        assert!(r.has_explicit_tag_or_digest());
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{D}"));
        let both = Reference::parse(&format!("busybox:1.36@{D}")).unwrap();
        assert_eq!(
            both.to_string(),
            format!("docker.io/library/busybox:1.36@{D}")
        );
        assert_eq!(both.tag(), Some("1.36"));
        let host = Reference::parse(&format!("127.0.0.1:5000/a/b:t@{D}")).unwrap();
        assert_eq!(host.registry(), "127.0.0.1:5000");
    }

    #[test]
    fn latest_and_explicit_versions() {
        assert!(Reference::parse("busybox").unwrap().is_latest());
        assert!(
            !Reference::parse("busybox")
                .unwrap()
                .has_explicit_tag_or_digest()
        );
        assert!(Reference::parse("busybox:latest").unwrap().is_latest());
        assert!(
            Reference::parse("busybox:latest")
                .unwrap()
                .has_explicit_tag_or_digest()
        );
        assert!(!Reference::parse("busybox:1").unwrap().is_latest());
    }

    #[test]
    fn invalid_references_carry_the_kubelets_message() {
        let e = Reference::parse("Busybox").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Failed to apply default image tag \"Busybox\": couldn't parse image name \"Busybox\": \
             invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        for bad in [
            "busybox:",
            ":tag",
            "busybox::1",
            "bus box",
            "a//b",
            "-a/b",
            "a/b-",
            "a/b..c",
            "busybox@sha256:xyz",
            "http://registry/app",
            "",
            "busybox:-tag",
        ] {
            let e = Reference::parse(bad).unwrap_err();
            assert!(
                e.reason().starts_with("invalid reference format"),
                "{bad:?}: {e}"
            );
        }
        let e = Reference::parse("Registry.Example.com/App").unwrap_err();
        assert!(
            e.reason()
                .contains("repository name (App) must be lowercase"),
            "{e}"
        );
        let hex = "a".repeat(64);
        assert!(
            Reference::parse(&hex)
                .unwrap_err()
                .reason()
                .contains("64-byte hexadecimal")
        );
        let short = "busybox@sha256:0123456789abcdef0123456789abcdef";
        assert_eq!(
            Reference::parse(short).unwrap_err().reason(),
            "invalid checksum digest length"
        );
        let alg = format!("busybox@md5:{}", "0".repeat(32));
        assert_eq!(
            Reference::parse(&alg).unwrap_err().reason(),
            "unsupported digest algorithm"
        );
        let long = format!("example.com/{}", "a".repeat(256));
        assert!(
            Reference::parse(&long)
                .unwrap_err()
                .reason()
                .contains("not be more than 255")
        );
    }

    #[test]
    fn messages_users_have_seen_in_kubelet_events() {
        let cases = [
            (
                "THIS IS NOT A VALID IMAGE REFERENCE!!",
                "invalid reference format: repository name (library/THIS IS NOT A VALID IMAGE REFERENCE!!) must be lowercase",
            ),
            (
                "ghcr.io/${{ github.repository }}:latest",
                "invalid reference format",
            ),
            (":sha-0b293ab", "invalid reference format"),
            (
                "registry.hub.docker.com/library//nginx:latest",
                "invalid reference format",
            ),
            (
                "hfhugs/unsloth-gemma-3-4b-it-GGUF:Q4_K_XL",
                "invalid reference format: repository name (hfhugs/unsloth-gemma-3-4b-it-GGUF) must be lowercase",
            ),
        ];
        for (input, reason) in cases {
            let e = Reference::parse(input).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "Failed to apply default image tag {input:?}: couldn't parse image name {input:?}: {reason}"
                )
            );
        }
    }

    #[test]
    fn separators_in_path_components() {
        for good in ["a/b_c", "a/b__c", "a/b---c", "a/b.c", "a0/1b"] {
            assert!(Reference::parse(good).is_ok(), "{good}");
        }
        for bad in ["a/b___c", "a/b._c", "a/_b"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }
}
