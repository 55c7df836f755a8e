//! `registries.yaml` in k3s's format: mirrors (endpoints tried in order,
//! then the registry itself) and per-host configs (credentials, TLS).
//!
//! ```yaml
//! mirrors:
//!   docker.io:
//!     endpoint: ["https://mirror.example.com:5000"]
//!   "127.0.0.1:5000":
//!     endpoint: ["http://127.0.0.1:5000"]   # plain HTTP
//! configs:
//!   "mirror.example.com:5000":
//!     auth: {username: u, password: p}
//!     tls: {ca_file: /etc/ssl/mirror-ca.pem, insecure_skip_verify: false}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::auth::Credentials;

/// The parsed file; `Default` is "no mirrors, no configs".
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistriesConfig {
    #[serde(default)]
    pub(crate) mirrors: BTreeMap<String, Mirror>,
    #[serde(default)]
    pub(crate) configs: BTreeMap<String, HostConfig>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Mirror {
    #[serde(default)]
    pub(crate) endpoint: Vec<String>,
    /// Repository rewrites (regex → replacement); k3s has them, ordinal
    /// refuses them rather than ignoring them.
    #[serde(default)]
    pub(crate) rewrite: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HostConfig {
    pub(crate) auth: Option<HostAuth>,
    pub(crate) tls: Option<Tls>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HostAuth {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) auth: Option<String>,
    pub(crate) identitytoken: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tls {
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) cert_file: Option<PathBuf>,
    pub(crate) key_file: Option<PathBuf>,
    #[serde(default)]
    pub(crate) insecure_skip_verify: bool,
}

/// A registries file that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", file.display())]
pub struct RegistriesError {
    pub(crate) file: PathBuf,
    pub(crate) message: String,
}

/// One place to pull from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// `host[:port]`.
    pub(crate) host: String,
    pub(crate) plain_http: bool,
    /// Whether this is the image's own registry (not a mirror).
    pub(crate) origin: bool,
    /// CA certificates (PEM) to trust besides the system's.
    pub(crate) ca_pem: Option<Vec<u8>>,
    pub(crate) insecure_skip_verify: bool,
    pub(crate) credentials: Option<Credentials>,
}

impl RegistriesConfig {
    /// Reads and checks a registries file; a missing file is no config.
    pub fn load(path: &Path) -> Result<RegistriesConfig, RegistriesError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => {
                return Err(RegistriesError {
                    file: path.into(),
                    message: e.to_string(),
                });
            }
        };
        Self::parse(&text).map_err(|message| RegistriesError {
            file: path.into(),
            message,
        })
    }

    /// Parses the YAML; errors name the field.
    pub(crate) fn parse(text: &str) -> Result<RegistriesConfig, String> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let c: RegistriesConfig = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        for (name, m) in &c.mirrors {
            if !m.rewrite.is_empty() {
                return Err(format!(
                    "mirrors.{name}.rewrite: repository rewrites are not supported"
                ));
            }
            for (i, e) in m.endpoint.iter().enumerate() {
                parse_endpoint(e).map_err(|msg| format!("mirrors.{name}.endpoint[{i}]: {msg}"))?;
            }
        }
        for (host, h) in &c.configs {
            if let Some(tls) = &h.tls {
                if tls.cert_file.is_some() || tls.key_file.is_some() {
                    return Err(format!(
                        "configs.{host}.tls: client certificates (cert_file, key_file) are not supported"
                    ));
                }
                if let Some(ca) = &tls.ca_file
                    && !ca.is_absolute()
                {
                    return Err(format!(
                        "configs.{host}.tls.ca_file: must be an absolute path"
                    ));
                }
            }
            if let Some(a) = &h.auth
                && a.identitytoken.is_some()
            {
                return Err(format!(
                    "configs.{host}.auth.identitytoken: identity tokens are not supported"
                ));
            }
        }
        Ok(c)
    }

    /// Where to pull an image of `registry` from: its mirrors' endpoints
    /// in order (those of `"*"` when it has none), then the registry
    /// itself unless a mirror endpoint already is it.
    pub(crate) fn endpoints(&self, registry: &str) -> Result<Vec<Endpoint>, String> {
        let mirror = self.mirrors.get(registry).or_else(|| self.mirrors.get("*"));
        let mut out = Vec::new();
        for e in mirror.map(|m| m.endpoint.as_slice()).unwrap_or_default() {
            let (host, plain_http) = parse_endpoint(e)?;
            let origin = host == registry;
            out.push(self.endpoint(host, plain_http, origin)?);
        }
        if !out.iter().any(|e| e.origin) {
            out.push(self.endpoint(registry.to_string(), false, true)?);
        }
        Ok(out)
    }

    fn endpoint(&self, host: String, plain_http: bool, origin: bool) -> Result<Endpoint, String> {
        let cfg = self.configs.get(&host);
        let tls = cfg.and_then(|c| c.tls.clone()).unwrap_or_default();
        let ca_pem = match &tls.ca_file {
            Some(p) => Some(
                std::fs::read(p)
                    .map_err(|e| format!("configs.{host}.tls.ca_file {}: {e}", p.display()))?,
            ),
            None => None,
        };
        let credentials = match cfg.and_then(|c| c.auth.as_ref()) {
            Some(a) => Credentials::from_parts(
                a.username.as_deref(),
                a.password.as_deref(),
                a.auth.as_deref(),
            )
            .map_err(|e| format!("configs.{host}.auth: {e}"))?,
            None => None,
        };
        Ok(Endpoint {
            host,
            plain_http,
            origin,
            ca_pem,
            insecure_skip_verify: tls.insecure_skip_verify,
            credentials,
        })
    }
}

/// `https://host[:port]` or `http://…`; a bare host means HTTPS. A path
/// other than `/` or `/v2` is refused.
fn parse_endpoint(e: &str) -> Result<(String, bool), String> {
    let (rest, plain) = if let Some(r) = e.strip_prefix("http://") {
        (r, true)
    } else if let Some(r) = e.strip_prefix("https://") {
        (r, false)
    } else if e.contains("://") {
        return Err(format!("{e:?}: only http:// and https:// endpoints"));
    } else {
        (e, false)
    };
    let (host, path) = match rest.split_once('/') {
        Some((h, p)) => (h, p),
        None => (rest, ""),
    };
    if !matches!(path.trim_end_matches('/'), "" | "v2") {
        return Err(format!("{e:?}: endpoint paths are not supported"));
    }
    if host.is_empty() {
        return Err(format!("{e:?}: no host"));
    }
    Ok((host.to_string(), plain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_come_first_then_the_registry() {
        let c = RegistriesConfig::parse(
            r#"
mirrors:
  docker.io:
    endpoint: ["https://m1.example.com:5000", "http://m2.example.com/v2"]
  "127.0.0.1:5000":
    endpoint: ["http://127.0.0.1:5000"]
configs:
  "m1.example.com:5000":
    auth: {username: u, password: p}
    tls: {insecure_skip_verify: true}
"#,
        )
        .unwrap();
        let e = c.endpoints("docker.io").unwrap();
        let hosts: Vec<_> = e
            .iter()
            .map(|e| (e.host.as_str(), e.plain_http, e.origin))
            .collect();
        assert_eq!(
            hosts,
            [
                ("m1.example.com:5000", false, false),
                ("m2.example.com", true, false),
                ("docker.io", false, true)
            ]
        );
        assert_eq!(e[0].credentials.as_ref().unwrap().username, "u");
        assert!(e[0].insecure_skip_verify);
        let local = c.endpoints("127.0.0.1:5000").unwrap();
        assert_eq!(local.len(), 1);
        assert!(local[0].plain_http && local[0].origin);
        assert_eq!(c.endpoints("quay.io").unwrap().len(), 1);
    }

    #[test]
    fn errors_name_the_field() {
        let e = RegistriesConfig::parse("mirrors:\n  docker.io:\n    endpoint: [\"ftp://x\"]\n")
            .unwrap_err();
        assert!(e.contains("mirrors.docker.io.endpoint[0]"), "{e}");
        let e = RegistriesConfig::parse("mirrors:\n  docker.io:\n    endpoints: []\n").unwrap_err();
        assert!(e.contains("endpoints"), "{e}");
        let e = RegistriesConfig::parse("configs:\n  h:\n    tls: {cert_file: /c}\n").unwrap_err();
        assert!(e.contains("configs.h.tls"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("registries.yaml");
        std::fs::write(&p, "mirrors: [").unwrap();
        let e = RegistriesConfig::load(&p).unwrap_err();
        assert!(e.to_string().starts_with(&p.display().to_string()), "{e}");
        assert_eq!(
            RegistriesConfig::load(&dir.path().join("none")).unwrap(),
            RegistriesConfig::default()
        );
    }
}
