//! ConfigMaps, Secrets and ServiceAccounts.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::Value;

use super::{
    AGE, Column, NAME, Printer, age_of, array_at, at, col, desc, map_len, name_of, str_at,
};

pub(super) const CONFIGMAP_COLUMNS: &[Column] = &[NAME, col("Data", desc::CM_DATA), AGE];

pub(super) fn configmap_cells(configmap: &Value, now: Timestamp) -> Vec<Value> {
    let count = map_len(configmap, "data") + map_len(configmap, "binaryData");
    vec![
        name_of(configmap),
        Value::from(count as i64),
        age_of(configmap, now),
    ]
}

/// The table of ConfigMaps.
pub(crate) static CONFIGMAP: Printer = Printer {
    columns: CONFIGMAP_COLUMNS,
    cells: configmap_cells,
};

pub(super) const SECRET_COLUMNS: &[Column] = &[
    NAME,
    col("Type", desc::SECRET_TYPE),
    col("Data", desc::SECRET_DATA),
    AGE,
];

pub(super) fn secret_cells(secret: &Value, now: Timestamp) -> Vec<Value> {
    // stringData merges into data when the server reads a Secret.
    let keys: BTreeSet<&String> = ["data", "stringData"]
        .iter()
        .filter_map(|field| at(secret, field).and_then(Value::as_object))
        .flat_map(|m| m.keys())
        .collect();
    // type defaults to Opaque.
    let secret_type = match str_at(secret, "type") {
        "" => "Opaque",
        t => t,
    };
    vec![
        name_of(secret),
        Value::String(secret_type.to_string()),
        Value::from(keys.len() as i64),
        age_of(secret, now),
    ]
}

/// The table of Secrets.
pub(crate) static SECRET: Printer = Printer {
    columns: SECRET_COLUMNS,
    cells: secret_cells,
};

pub(super) const SERVICE_ACCOUNT_COLUMNS: &[Column] =
    &[NAME, col("Secrets", desc::SA_SECRETS), AGE];

pub(super) fn service_account_cells(account: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name_of(account),
        Value::from(array_at(account, "secrets").len() as i64),
        age_of(account, now),
    ]
}

/// The table of ServiceAccounts.
pub(crate) static SERVICE_ACCOUNT: Printer = Printer {
    columns: SERVICE_ACCOUNT_COLUMNS,
    cells: service_account_cells,
};
