//! A small pod-like schema for the tests: containers, env, volumes keyed by
//! name, ports keyed by (containerPort, protocol), finalizers a set, args and
//! command atomic lists, the selector an atomic map.

use crate::{ListType, Schema};

pub(crate) struct PodSchema;

impl Schema for PodSchema {
    fn list_type(&self, path: &[&str]) -> ListType {
        let names = |keys: &[&str]| ListType::Map(keys.iter().map(|k| k.to_string()).collect());
        match path {
            [.., "spec", "containers"] | [.., "spec", "initContainers"] => names(&["name"]),
            [.., "containers", "env"] => names(&["name"]),
            [.., "containers", "ports"] => names(&["containerPort", "protocol"]),
            [.., "spec", "volumes"] => names(&["name"]),
            ["metadata", "finalizers"] => ListType::Set,
            _ => ListType::Atomic,
        }
    }

    fn is_atomic(&self, path: &[&str]) -> bool {
        path == ["spec", "selector"]
    }
}
