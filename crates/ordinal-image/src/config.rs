//! The parts of an image's config (OCI or Docker JSON) a container needs:
//! entrypoint, command, environment, working directory, user, volumes,
//! stop signal, labels, and the platform. Parsed with `oci-spec`'s types.

use std::collections::BTreeMap;

use oci_spec::image::ImageConfiguration;
use serde::{Deserialize, Serialize};

/// What the runtime takes from an image's config.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// `Entrypoint`; `None` when the config does not set it (a pod's
    /// `command` replaces it either way).
    pub entrypoint: Option<Vec<String>>,
    /// `Cmd`, the default arguments; a pod's `args` replace it.
    pub cmd: Option<Vec<String>>,
    /// `Env` as `NAME=value` entries, in the config's order.
    #[serde(default)]
    pub env: Vec<String>,
    /// `WorkingDir`; `None` when unset or empty.
    pub working_dir: Option<String>,
    /// `User` (`name`, `uid`, `uid:gid`…); `None` when unset or empty.
    pub user: Option<String>,
    /// The paths of `Volumes`.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// `StopSignal` (`SIGQUIT`, `15`); `None` when unset or empty.
    pub stop_signal: Option<String>,
    /// `Labels`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The platform's architecture, as OCI names it (`amd64`, `arm64`).
    pub architecture: String,
    /// The platform's operating system (`linux`).
    pub os: String,
}

/// A config blob that is not an image config.
#[derive(Debug, thiserror::Error)]
#[error("invalid image config: {0}")]
pub struct ConfigError(String);

/// A parsed config blob: what the runtime needs and the layer diff_ids.
#[derive(Clone, Debug)]
pub struct ParsedConfig {
    pub config: ImageConfig,
    pub diff_ids: Vec<String>,
}

/// Parses an OCI or Docker image config.
pub fn parse(bytes: &[u8]) -> Result<ParsedConfig, ConfigError> {
    let c: ImageConfiguration =
        serde_json::from_slice(bytes).map_err(|e| ConfigError(e.to_string()))?;
    if c.rootfs().typ() != "layers" {
        return Err(ConfigError(format!(
            "rootfs type {:?}, expected \"layers\"",
            c.rootfs().typ()
        )));
    }
    let diff_ids = c.rootfs().diff_ids().clone();
    if let Some(bad) = diff_ids
        .iter()
        .find(|d| crate::digest::sha256_hex(d).is_none())
    {
        return Err(ConfigError(format!(
            "diff_id {bad:?} is not a sha256 digest"
        )));
    }
    let inner = c.config().clone().unwrap_or_default();
    let config = ImageConfig {
        entrypoint: inner.entrypoint().clone(),
        cmd: inner.cmd().clone(),
        env: inner.env().clone().unwrap_or_default(),
        working_dir: inner.working_dir().clone().filter(|w| !w.is_empty()),
        user: inner.user().clone().filter(|u| !u.is_empty()),
        volumes: inner.volumes().clone().unwrap_or_default(),
        stop_signal: inner.stop_signal().clone().filter(|s| !s.is_empty()),
        labels: inner
            .labels()
            .clone()
            .map(|l| l.into_iter().collect())
            .unwrap_or_default(),
        architecture: c.architecture().to_string(),
        os: c.os().to_string(),
    };
    Ok(ParsedConfig { config, diff_ids })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_with_nulls_and_volume_maps() {
        let json = br#"{
            "architecture": "amd64", "os": "linux", "docker_version": "24.0.0",
            "config": {"Entrypoint": null, "Cmd": ["sh"], "Env": ["PATH=/bin"],
                       "WorkingDir": "", "User": "1000:1000",
                       "Volumes": {"/data": {}}, "StopSignal": "SIGQUIT",
                       "Labels": {"a": "b"}},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]}
        }"#;
        let p = parse(json).unwrap();
        assert_eq!(p.config.entrypoint, None);
        assert_eq!(p.config.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(p.config.working_dir, None);
        assert_eq!(p.config.user.as_deref(), Some("1000:1000"));
        assert_eq!(p.config.volumes, vec!["/data".to_string()]);
        assert_eq!(p.config.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(p.config.architecture, "amd64");
        assert_eq!(p.diff_ids.len(), 1);
    }

    #[test]
    fn not_a_config() {
        assert!(parse(b"{}").is_err());
        assert!(parse(b"[1]").is_err());
    }
}
