//! ConfigMap, Secret and Lease validation: data keys and sizes, the
//! `immutable` flag, the keys each secret type requires, and lease
//! durations.

use base64::Engine;
use serde_json::Value;

use super::common::{Path, immutable};
use crate::lenient::{int, obj, string};
use crate::names::{self, FieldError};

/// `core.MaxSecretSize`: 1 MiB for a ConfigMap's or Secret's data.
const MAX_DATA_SIZE: usize = 1024 * 1024;
const IMMUTABLE_SET: &str = "field is immutable when `immutable` is set";

/// `validation.IsConfigMapKey`.
pub fn config_key_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > names::DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(names::max_len_error(names::DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    let valid_chars = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !valid_chars {
        errs.push(names::regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            "[-._a-zA-Z0-9]+",
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    if key == "." {
        errs.push("must not be '.'".into());
    } else if key == ".." {
        errs.push("must not be '..'".into());
    } else if key.starts_with("..") {
        errs.push("must not start with '..'".into());
    }
    errs
}

fn keys_of<'a>(v: &'a Value, key: &str) -> Vec<(&'a String, &'a Value)> {
    obj(v, key).map(|m| m.iter().collect()).unwrap_or_default()
}

/// The size of a base64 data value once decoded.
fn decoded_len(v: &Value) -> usize {
    let s = v.as_str().unwrap_or("");
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map(|b| b.len())
        .unwrap_or(s.len())
}

/// `ValidateConfigMap` without the metadata.
pub fn validate_config_map(cm: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let binary = obj(cm, "binaryData");
    let mut total = 0usize;
    for (key, value) in keys_of(cm, "data") {
        let p = Path::new("data").key(key);
        for m in config_key_errors(key) {
            errs.push(FieldError::invalid(&p, key.as_str(), m));
        }
        if binary.is_some_and(|b| b.contains_key(key)) {
            errs.push(FieldError::invalid(
                &p,
                key.as_str(),
                "duplicate of key present in binaryData",
            ));
        }
        total += value.as_str().map_or(0, str::len);
    }
    for (key, value) in keys_of(cm, "binaryData") {
        let p = Path::new("binaryData").key(key);
        for m in config_key_errors(key) {
            errs.push(FieldError::invalid(&p, key.as_str(), m));
        }
        total += decoded_len(value);
    }
    if total > MAX_DATA_SIZE {
        errs.push(FieldError::too_long("", MAX_DATA_SIZE));
    }
    errs
}

/// The `immutable` rules shared by ConfigMaps and Secrets.
fn immutable_data(old: &Value, new: &Value, keys: &[&str], errs: &mut Vec<FieldError>) {
    if old.get("immutable") != Some(&Value::Bool(true)) {
        return;
    }
    if new.get("immutable") != Some(&Value::Bool(true)) {
        errs.push(FieldError::forbidden("immutable", IMMUTABLE_SET));
    }
    for key in keys {
        let norm = |v: &Value| obj(v, key).cloned().unwrap_or_default();
        if norm(old) != norm(new) {
            errs.push(FieldError::forbidden(*key, IMMUTABLE_SET));
        }
    }
}

/// `ValidateConfigMapUpdate` without the metadata.
pub fn validate_config_map_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    immutable_data(old, new, &["data", "binaryData"], &mut errs);
    errs.extend(validate_config_map(new));
    errs
}

/// `ValidateSecret` without the metadata.
pub fn validate_secret(secret: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let data = obj(secret, "data");
    let mut total = 0usize;
    for (key, value) in keys_of(secret, "data") {
        for m in config_key_errors(key) {
            errs.push(FieldError::invalid(
                Path::new("data").key(key),
                key.as_str(),
                m,
            ));
        }
        total += decoded_len(value);
    }
    if total > MAX_DATA_SIZE {
        errs.push(FieldError::too_long("data", MAX_DATA_SIZE));
    }
    let has = |k: &str| data.is_some_and(|d| d.contains_key(k));
    let require = |k: &str, errs: &mut Vec<FieldError>| {
        if !has(k) {
            errs.push(FieldError::required(Path::new("data").key(k), ""));
        }
    };
    match string(secret, "type") {
        "kubernetes.io/service-account-token" => {
            let named = secret
                .pointer("/metadata/annotations")
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty());
            if !named {
                errs.push(FieldError::required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" => require(".dockercfg", &mut errs),
        "kubernetes.io/dockerconfigjson" => require(".dockerconfigjson", &mut errs),
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            // Upstream's path really reads `data[%s][username]`.
            errs.push(FieldError::required("data[%s][username]", ""));
            errs.push(FieldError::required("data[%s][password]", ""));
        }
        "kubernetes.io/ssh-auth" => require("ssh-privatekey", &mut errs),
        "kubernetes.io/tls" => {
            require("tls.key", &mut errs);
            require("tls.crt", &mut errs);
        }
        _ => {}
    }
    errs
}

/// `ValidateSecretUpdate` without the metadata.
pub fn validate_secret_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(e) = immutable(new.get("type"), old.get("type"), &Path::new("type")) {
        errs.push(e);
    }
    immutable_data(old, new, &["data"], &mut errs);
    errs.extend(validate_secret(new));
    errs
}

/// `ValidateLease` without the metadata.
pub fn validate_lease(lease: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let spec = lease.get("spec").unwrap_or(&null);
    let path = Path::new("spec");
    if let Some(d) = int(spec, "leaseDurationSeconds")
        && d <= 0
    {
        errs.push(FieldError::invalid(
            path.child("leaseDurationSeconds"),
            d,
            "must be greater than 0",
        ));
    }
    if let Some(t) = int(spec, "leaseTransitions")
        && t < 0
    {
        errs.push(FieldError::invalid(
            path.child("leaseTransitions"),
            t,
            "must be greater than or equal to 0",
        ));
    }
    errs
}
