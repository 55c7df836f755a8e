//! The data dir's credentials: a CA, a serving certificate, the admin token,
//! and the kubeconfig that ties them together for kubectl.
//!
//! The CA and token are made once, on first start, and kept; the serving
//! certificate is re-issued by that CA on every start, so it always names the
//! address the server listens on while existing kubeconfigs stay valid.

use std::fs;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use rand::Rng;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};

/// Why the credentials could not be read, made or written.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Reading or writing a file of the data dir failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A key or certificate could not be made or parsed.
    #[error("certificate: {0}")]
    Cert(#[from] rcgen::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What the server needs to serve TLS and authenticate its admin.
#[derive(Clone)]
pub struct Credentials {
    /// The cluster CA's certificate (PEM): clients trust the server
    /// through it.
    pub ca_pem: String,
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
    /// The admin's bearer token, as the kubeconfig carries it.
    pub token: String,
    /// The client certificate the API server presents to nodes (for
    /// `pods/log` and `pods/exec`), issued by the CA at each start.
    pub kubelet_client_cert_pem: String,
    /// The private key (PEM) of that client certificate.
    pub kubelet_client_key_pem: String,
    /// The key ServiceAccount tokens are signed with (PKCS#8 PEM, P-256),
    /// made once and kept, so tokens stay valid across restarts.
    pub service_account_key_pem: String,
}

/// The client certificate's subject: upstream's kubeadm names it
/// `kube-apiserver-kubelet-client` in group `system:masters`.
pub const KUBELET_CLIENT_NAME: &str = "kube-apiserver-kubelet-client";

/// Writes a file readable by its owner only.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), PkiError> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    file.write_all(contents).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))?;
    Ok(())
}

fn ca_params() -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "ordinal-ca");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Loads or creates the CA and token in `dir`, and issues a serving
/// certificate for `localhost`, `127.0.0.1`, the listen address and
/// `extra_names` (the names pods reach the server by).
pub fn ensure(
    dir: &Path,
    listen: SocketAddr,
    extra_names: &[String],
) -> Result<Credentials, PkiError> {
    let pki = dir.join("pki");
    fs::create_dir_all(&pki).map_err(io(&pki))?;
    let ca_key_path = pki.join("ca.key");
    let ca_crt_path = pki.join("ca.crt");
    let ca_key = match fs::read_to_string(&ca_key_path) {
        Ok(pem) if ca_crt_path.exists() => KeyPair::from_pem(&pem)?,
        _ => {
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
            let cert = ca_params()?.self_signed(&key)?;
            write_private(&ca_key_path, key.serialize_pem().as_bytes())?;
            write_private(&ca_crt_path, cert.pem().as_bytes())?;
            key
        }
    };
    let ca_pem = fs::read_to_string(&ca_crt_path).map_err(io(&ca_crt_path))?;

    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let ip = listen.ip();
    if !ip.is_unspecified() && ip != IpAddr::from([127, 0, 0, 1]) {
        names.push(ip.to_string());
    }
    names.extend(
        extra_names
            .iter()
            .filter(|n| !names.contains(n))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "ordinal-apiserver");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let issuer = Issuer::new(ca_params()?, ca_key);
    let cert = params.signed_by(&key, &issuer)?;

    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client
        .distinguished_name
        .push(DnType::CommonName, KUBELET_CLIENT_NAME);
    client
        .distinguished_name
        .push(DnType::OrganizationName, "system:masters");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    client.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let client_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let client_cert = client.signed_by(&client_key, &issuer)?;

    let sa_key_path = pki.join("service-account.key");
    let service_account_key_pem = match fs::read_to_string(&sa_key_path) {
        Ok(pem) if KeyPair::from_pem(&pem).is_ok() => pem,
        _ => {
            let pem = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?.serialize_pem();
            write_private(&sa_key_path, pem.as_bytes())?;
            pem
        }
    };

    let token_path = dir.join("token");
    let token = match fs::read_to_string(&token_path) {
        Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
        _ => {
            let t = random_token();
            write_private(&token_path, t.as_bytes())?;
            t
        }
    };
    Ok(Credentials {
        ca_pem,
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        token,
        kubelet_client_cert_pem: client_cert.pem(),
        kubelet_client_key_pem: client_key.serialize_pem(),
        service_account_key_pem,
    })
}

/// The signer of ServiceAccount tokens made from the credentials' key.
pub fn token_signer(creds: &Credentials) -> Result<crate::auth::tokens::Signer, PkiError> {
    let key = KeyPair::from_pem(&creds.service_account_key_pem)?;
    crate::auth::tokens::Signer::new(
        &creds.service_account_key_pem,
        &key.public_key_pem(),
        key.public_key_raw(),
    )
    .map_err(|e| PkiError::Cert(rcgen::Error::PemError(e)))
}

/// The kubeconfig for the admin, pointing at `server` (an `https://` URL).
pub fn kubeconfig(creds: &Credentials, server: &str) -> String {
    kubeconfig_with(creds, server, "admin", &creds.token)
}

/// A kubeconfig for the user named `user` holding `token`.
pub fn kubeconfig_with(creds: &Credentials, server: &str, user: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(creds.ca_pem.as_bytes());
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: ordinal
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: {user}
  user:
    token: {token}
contexts:
- name: ordinal
  context:
    cluster: ordinal
    user: {user}
    namespace: default
current-context: ordinal
preferences: {{}}
"
    )
}

/// The bearer token of the component `file` names (`DIR/pki/tokens/<file>`),
/// made on first use and kept.
pub fn component_token(dir: &Path, file: &str) -> Result<String, PkiError> {
    let tokens = dir.join("pki").join("tokens");
    fs::create_dir_all(&tokens).map_err(io(&tokens))?;
    let path = tokens.join(file);
    match fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_string()),
        _ => {
            let t = random_token();
            write_private(&path, t.as_bytes())?;
            Ok(t)
        }
    }
}

/// The address clients should use for a listen address: a wildcard listen
/// is reached through loopback.
pub fn client_url(listen: SocketAddr) -> String {
    let ip = if listen.ip().is_unspecified() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        listen.ip()
    };
    match ip {
        IpAddr::V4(v4) => format!("https://{v4}:{}", listen.port()),
        IpAddr::V6(v6) => format!("https://[{v6}]:{}", listen.port()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn credentials_persist_and_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let listen: SocketAddr = "127.0.0.1:6443".parse().unwrap();
        let first = ensure(dir.path(), listen, &[]).unwrap();
        let second = ensure(dir.path(), listen, &[]).unwrap();
        assert_eq!(first.ca_pem, second.ca_pem, "the CA is made once");
        assert_eq!(first.token, second.token, "the token is made once");
        for file in ["token", "pki/ca.key", "pki/ca.crt"] {
            let mode = fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{file} is private");
        }
        let config = kubeconfig(&first, &client_url(listen));
        assert!(config.contains("server: https://127.0.0.1:6443"));
        assert!(config.contains(&first.token));
    }
}
