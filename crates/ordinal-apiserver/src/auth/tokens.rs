//! ServiceAccount tokens: signed JWTs (ES256) with an issuer, audiences,
//! an expiry and optionally the pod they are bound to, as upstream's
//! TokenRequest issues them; and their verification, which also requires
//! the ServiceAccount (and the bound pod) to still exist with the uid the
//! token names.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The issuer (`iss`) of every token, and the audience the API server
/// accepts: upstream's default for a cluster named `cluster.local`.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// The shortest lifetime a TokenRequest may ask for, in seconds.
pub const MIN_EXPIRATION: i64 = 600;

/// The lifetime of a token whose request names none.
pub const DEFAULT_EXPIRATION: i64 = 3600;

/// The signing key and what verifies it.
pub struct Signer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The key id (`kid`): a digest of the public key.
    kid: String,
    /// The public key as a JWK (`/openid/v1/jwks`).
    jwk: serde_json::Value,
}

/// Who a token is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The ServiceAccount's namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: String,
    /// The pod the token is bound to: its name and uid.
    pub pod: Option<(String, String)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Vec<String>,
    exp: i64,
    iat: i64,
    nbf: i64,
    jti: String,
    #[serde(rename = "kubernetes.io")]
    kubernetes: KubernetesClaims,
}

#[derive(Debug, Serialize, Deserialize)]
struct KubernetesClaims {
    namespace: String,
    serviceaccount: NameUid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pod: Option<NameUid>,
}

#[derive(Debug, Serialize, Deserialize)]
struct NameUid {
    name: String,
    uid: String,
}

/// A token that verified: who it names, for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The ServiceAccount and pod it names.
    pub binding: Binding,
    /// Its `jti`.
    pub id: String,
}

/// Why a token was not accepted (upstream logs these; the client sees 401).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not a JWT, or signed by another key.
    #[error("invalid signature or format")]
    Invalid,
    /// Past `exp`, or before `nbf`.
    #[error("token has expired")]
    Expired,
    /// Not for this server.
    #[error("token audiences do not include the API server's")]
    Audience,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl Signer {
    /// A signer from a PKCS#8 P-256 private key and its SPKI public key
    /// (PEM), as [`crate::pki`] keeps them; the raw public point
    /// (`0x04 || x || y`) makes the JWK.
    pub fn new(private_pem: &str, public_pem: &str, public_raw: &[u8]) -> Result<Signer, String> {
        let encoding =
            EncodingKey::from_ec_pem(private_pem.as_bytes()).map_err(|e| e.to_string())?;
        let decoding =
            DecodingKey::from_ec_pem(public_pem.as_bytes()).map_err(|e| e.to_string())?;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (x, y) = match public_raw {
            [0x04, rest @ ..] if rest.len() == 64 => rest.split_at(32),
            _ => return Err("the service-account key is not an uncompressed P-256 point".into()),
        };
        let kid = {
            let digest = ring_digest(public_raw);
            b64.encode(&digest[..16])
        };
        let jwk = serde_json::json!({
            "use": "sig",
            "kty": "EC",
            "kid": kid,
            "crv": "P-256",
            "alg": "ES256",
            "x": b64.encode(x),
            "y": b64.encode(y),
        });
        Ok(Signer {
            encoding,
            decoding,
            kid,
            jwk,
        })
    }

    /// The public key set, as `/openid/v1/jwks` serves it.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.jwk] })
    }

    /// Signs a token for `binding`, for `audiences`, valid `seconds` from
    /// now. Returns the token and its expiry (seconds since the epoch).
    pub fn issue(&self, binding: &Binding, audiences: &[String], seconds: i64) -> (String, i64) {
        let iat = now();
        let exp = iat + seconds;
        let claims = Claims {
            iss: ISSUER.into(),
            sub: format!(
                "system:serviceaccount:{}:{}",
                binding.namespace, binding.name
            ),
            aud: if audiences.is_empty() {
                vec![ISSUER.into()]
            } else {
                audiences.to_vec()
            },
            exp,
            iat,
            nbf: iat,
            jti: uuid::Uuid::new_v4().to_string(),
            kubernetes: KubernetesClaims {
                namespace: binding.namespace.clone(),
                serviceaccount: NameUid {
                    name: binding.name.clone(),
                    uid: binding.uid.clone(),
                },
                pod: binding.pod.as_ref().map(|(name, uid)| NameUid {
                    name: name.clone(),
                    uid: uid.clone(),
                }),
            },
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        // Signing with a key this signer parsed cannot fail.
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding).unwrap_or_default();
        (token, exp)
    }

    /// Checks a token's signature, issuer, audience and lifetime. Whether
    /// the ServiceAccount and pod it names still exist is the caller's to
    /// check.
    pub fn verify(&self, token: &str) -> Result<Verified, TokenError> {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[ISSUER]);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => {
                        TokenError::Expired
                    }
                    ErrorKind::InvalidAudience => TokenError::Audience,
                    _ => TokenError::Invalid,
                }
            })?;
        let k = data.claims.kubernetes;
        if data.claims.sub
            != format!(
                "system:serviceaccount:{}:{}",
                k.namespace, k.serviceaccount.name
            )
        {
            return Err(TokenError::Invalid);
        }
        Ok(Verified {
            binding: Binding {
                namespace: k.namespace,
                name: k.serviceaccount.name,
                uid: k.serviceaccount.uid,
                pod: k.pod.map(|p| (p.name, p.uid)),
            },
            id: data.claims.jti,
        })
    }
}

/// SHA-256 of `bytes`.
fn ring_digest(bytes: &[u8]) -> Vec<u8> {
    // jsonwebtoken depends on ring; its digest is the one at hand.
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

/// Whether a bearer token looks like a JWT (three base64url parts).
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3 && token.starts_with("eyJ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn signer() -> Signer {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        Signer::new(
            &key.serialize_pem(),
            &key.public_key_pem(),
            key.public_key_raw(),
        )
        .unwrap()
    }

    fn binding() -> Binding {
        Binding {
            namespace: "ns".into(),
            name: "sa".into(),
            uid: "u1".into(),
            pod: Some(("p".into(), "pu".into())),
        }
    }

    #[test]
    fn a_token_verifies_with_its_binding() {
        let s = signer();
        let (token, exp) = s.issue(&binding(), &[], 3600);
        assert!(looks_like_jwt(&token));
        assert!(exp > now());
        let v = s.verify(&token).unwrap();
        assert_eq!(v.binding, binding());
        assert_eq!(s.jwks()["keys"][0]["kty"], "EC");
    }

    #[test]
    fn wrong_key_audience_or_expiry_is_refused() {
        let s = signer();
        let other = signer();
        let (token, _) = other.issue(&binding(), &[], 3600);
        assert_eq!(s.verify(&token), Err(TokenError::Invalid));
        let (token, _) = s.issue(&binding(), &["vault".into()], 3600);
        assert_eq!(s.verify(&token), Err(TokenError::Audience));
        let (token, _) = s.issue(&binding(), &[], -10);
        assert_eq!(s.verify(&token), Err(TokenError::Expired));
        assert_eq!(s.verify("eyJ.not.ajwt"), Err(TokenError::Invalid));
        let (mut token, _) = s.issue(&binding(), &[], 3600);
        token.push('A');
        assert_eq!(s.verify(&token), Err(TokenError::Invalid));
    }
}
