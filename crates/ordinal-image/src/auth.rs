//! Registry credentials from Kubernetes pull secrets, looked up the way
//! the kubelet's credential keyring does: `kubernetes.io/dockerconfigjson`
//! (`{"auths": {host: {...}}}`) and `kubernetes.io/dockercfg` (the bare
//! map); keys may carry a scheme, a port, a path prefix and `*` globs per
//! host label; `https://index.docker.io/v1/` means Docker Hub; more
//! specific keys (reverse-sorted) are tried first.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use serde::Deserialize;

use ordinal_core::image_reference::Reference;

/// A username and password for a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub(crate) username: String,
    pub(crate) password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    pub(crate) fn new(username: &str, password: &str) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// From a config entry: `auth` (base64 `user:password`) wins over
    /// `username`/`password`, as in Docker's config files.
    pub fn from_parts(
        username: Option<&str>,
        password: Option<&str>,
        auth: Option<&str>,
    ) -> Result<Option<Credentials>, AuthError> {
        if let Some(a) = auth.filter(|a| !a.is_empty()) {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(a.trim())
                .map_err(|e| AuthError(format!("auth is not base64: {e}")))?;
            let s = String::from_utf8(bytes).map_err(|_| AuthError("auth is not UTF-8".into()))?;
            let (u, p) = s
                .split_once(':')
                .ok_or_else(|| AuthError("auth is not user:password".into()))?;
            return Ok(Some(Credentials::new(u, p)));
        }
        match (username, password) {
            (Some(u), p) if !u.is_empty() => Ok(Some(Credentials::new(u, p.unwrap_or_default()))),
            _ => Ok(None),
        }
    }
}

/// A pull secret that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid registry credentials: {0}")]
pub struct AuthError(String);

#[derive(Deserialize)]
struct Entry {
    username: Option<String>,
    password: Option<String>,
    auth: Option<String>,
}

#[derive(Deserialize)]
struct DockerConfigJson {
    #[serde(default)]
    auths: HashMap<String, Entry>,
}

/// Credentials by registry key, looked up per image.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    creds: BTreeMap<String, Vec<Credentials>>,
}

/// The type of a `kubernetes.io/dockerconfigjson` secret and its key.
pub const DOCKER_CONFIG_JSON: (&str, &str) =
    ("kubernetes.io/dockerconfigjson", ".dockerconfigjson");
/// The type of a `kubernetes.io/dockercfg` secret and its key.
pub const DOCKER_CFG: (&str, &str) = ("kubernetes.io/dockercfg", ".dockercfg");

impl Keyring {
    /// An empty keyring: every registry is pulled from anonymously.
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// Adds a pull secret by its type and data (as in a Secret object).
    pub fn add_secret(
        &mut self,
        secret_type: &str,
        data: &BTreeMap<String, Vec<u8>>,
    ) -> Result<(), AuthError> {
        if secret_type == DOCKER_CONFIG_JSON.0 {
            let bytes = data
                .get(DOCKER_CONFIG_JSON.1)
                .ok_or_else(|| AuthError(format!("no {} key", DOCKER_CONFIG_JSON.1)))?;
            self.add_docker_config_json(bytes)
        } else if secret_type == DOCKER_CFG.0 {
            let bytes = data
                .get(DOCKER_CFG.1)
                .ok_or_else(|| AuthError(format!("no {} key", DOCKER_CFG.1)))?;
            self.add_dockercfg(bytes)
        } else {
            Err(AuthError(format!(
                "secret type {secret_type:?} holds no registry credentials"
            )))
        }
    }

    /// `{"auths": {...}}`.
    pub fn add_docker_config_json(&mut self, bytes: &[u8]) -> Result<(), AuthError> {
        let c: DockerConfigJson =
            serde_json::from_slice(bytes).map_err(|e| AuthError(e.to_string()))?;
        self.add_entries(c.auths)
    }

    /// The bare map of the legacy `.dockercfg`.
    pub fn add_dockercfg(&mut self, bytes: &[u8]) -> Result<(), AuthError> {
        let c: HashMap<String, Entry> =
            serde_json::from_slice(bytes).map_err(|e| AuthError(e.to_string()))?;
        self.add_entries(c)
    }

    fn add_entries(&mut self, entries: HashMap<String, Entry>) -> Result<(), AuthError> {
        for (loc, e) in entries {
            let Some(c) = Credentials::from_parts(
                e.username.as_deref(),
                e.password.as_deref(),
                e.auth.as_deref(),
            )?
            else {
                continue;
            };
            self.creds.entry(key_of(&loc)).or_default().push(c);
        }
        Ok(())
    }

    /// The credentials to try for `r`, most specific key first; Docker
    /// Hub images also get `index.docker.io`'s when nothing else matched.
    pub fn lookup(&self, r: &Reference) -> Vec<Credentials> {
        let image = format!("{}/{}", r.registry(), r.repository());
        let mut out = Vec::new();
        for (k, creds) in self.creds.iter().rev() {
            if urls_match(k, &image) {
                out.extend(creds.iter().cloned());
            }
        }
        if out.is_empty()
            && r.registry() == ordinal_core::image_reference::DOCKER_HUB
            && let Some(c) = self.creds.get("index.docker.io")
        {
            out.extend(c.iter().cloned());
        }
        out
    }
}

/// A credential location as a schemeless key: host plus path, with
/// `/v1/` and `/v2/` standing for the host alone.
fn key_of(loc: &str) -> String {
    let rest = loc
        .strip_prefix("https://")
        .or_else(|| loc.strip_prefix("http://"))
        .unwrap_or(loc);
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let path = if path.starts_with("/v1/") || path.starts_with("/v2/") {
        &path[3..]
    } else {
        path
    };
    if path.is_empty() || path == "/" {
        host.to_string()
    } else {
        format!("{host}{path}")
    }
}

fn split_host(s: &str) -> (&str, &str, &str) {
    let (hostport, path) = match s.find('/') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.contains(']') || hostport.ends_with(']') => (h, p),
        _ => (hostport, ""),
    };
    (host, port, path)
}

/// The kubelet's `URLsMatch`: same port, same number of host labels each
/// matching as a glob, and the key's path a prefix of the image's.
fn urls_match(glob: &str, target: &str) -> bool {
    let (gh, gp, gpath) = split_host(glob);
    let (th, tp, tpath) = split_host(target);
    if gp != tp || !tpath.starts_with(gpath) {
        return false;
    }
    let g: Vec<&str> = gh.split('.').collect();
    let t: Vec<&str> = th.split('.').collect();
    g.len() == t.len()
        && g.iter()
            .zip(&t)
            .all(|(g, t)| glob_match(g.as_bytes(), t.as_bytes()))
}

/// `*` and `?` globs within one label.
fn glob_match(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob_match(&p[1..], s) || (!s.is_empty() && glob_match(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob_match(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob_match(&p[1..], &s[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring(json: &str) -> Keyring {
        let mut k = Keyring::new();
        k.add_docker_config_json(json.as_bytes()).unwrap();
        k
    }

    fn users(k: &Keyring, image: &str) -> Vec<String> {
        k.lookup(&Reference::parse(image).unwrap())
            .into_iter()
            .map(|c| c.username)
            .collect()
    }

    #[test]
    fn docker_hub_forms_and_the_auth_field() {
        let auth = base64::engine::general_purpose::STANDARD.encode("hub:secret");
        let k = keyring(&format!(
            r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{auth}"}}}}}}"#
        ));
        let c = k.lookup(&Reference::parse("busybox").unwrap());
        assert_eq!(c, vec![Credentials::new("hub", "secret")]);
        assert!(users(&k, "quay.io/x/y").is_empty());
    }

    #[test]
    fn ports_paths_and_wildcards_most_specific_first() {
        let k = keyring(
            r#"{"auths": {
                "registry.example.com": {"username": "host", "password": "p"},
                "registry.example.com/team": {"username": "team", "password": "p"},
                "registry.example.com:5000": {"username": "port", "password": "p"},
                "*.example.com": {"username": "wild", "password": "p"},
                "http://127.0.0.1:5000/v2/": {"username": "local", "password": "p"}
            }}"#,
        );
        assert_eq!(
            users(&k, "registry.example.com/team/app"),
            ["team", "host", "wild"]
        );
        assert_eq!(
            users(&k, "registry.example.com/other/app"),
            ["host", "wild"]
        );
        assert_eq!(users(&k, "registry.example.com:5000/app"), ["port"]);
        assert_eq!(users(&k, "a.example.com/app"), ["wild"]);
        // A glob matches one label only.
        assert!(users(&k, "a.b.example.com/app").is_empty());
        assert_eq!(users(&k, "127.0.0.1:5000/app"), ["local"]);
    }

    #[test]
    fn legacy_dockercfg_and_secret_types() {
        let mut k = Keyring::new();
        let data: BTreeMap<String, Vec<u8>> = [(
            ".dockercfg".to_string(),
            br#"{"quay.io": {"username": "q", "password": "p"}}"#.to_vec(),
        )]
        .into();
        k.add_secret("kubernetes.io/dockercfg", &data).unwrap();
        assert_eq!(users(&k, "quay.io/org/app:1"), ["q"]);
        assert!(k.add_secret("Opaque", &data).is_err());
        assert!(
            k.add_docker_config_json(b"{\"auths\": {\"x\": {\"auth\": \"!!\"}}}")
                .is_err()
        );
    }
}
