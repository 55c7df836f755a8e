//! The fuzz targets of `ordinal_apiserver::fuzz` on stable: proptest feeds
//! each one arbitrary bytes and inputs shaped like what it parses, and
//! every file the fuzzers keep — the seed corpus and the inputs that once
//! crashed (`fuzz/corpus/<target>/`, `fuzz/regressions/<target>/`) — is
//! replayed. A panic anywhere fails the test. `PROPTEST_CASES` sets how
//! many inputs each target gets (256 by default).

use std::path::PathBuf;

use ordinal_apiserver::fuzz;
use proptest::prelude::*;

/// A target's body: it panics on a bug, whatever the bytes.
type Target = fn(&[u8]);

/// The targets by the names `fuzz/fuzz_targets/` gives them.
const TARGETS: &[(&str, Target)] = &[
    ("decode_json", fuzz::decode_json),
    ("decode_yaml", fuzz::decode_yaml),
    ("decode_protobuf", fuzz::decode_protobuf),
    ("merge_patch", fuzz::merge_patch),
    ("strategic_patch", fuzz::strategic_patch),
    ("json_patch", fuzz::json_patch),
    ("server_side_apply", fuzz::server_side_apply),
    ("selectors", fuzz::selectors),
    ("quantity", fuzz::quantity),
];

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

#[test]
fn every_kept_input_runs_clean() {
    let mut replayed = 0;
    for (name, target) in TARGETS {
        for kind in ["corpus", "regressions"] {
            let dir = fuzz_dir().join(kind).join(name);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                target(&data);
                replayed += 1;
            }
        }
    }
    assert!(replayed > 0, "no corpus under {}", fuzz_dir().display());
}

/// JSON values of the shapes API objects have, kept small.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let key = prop_oneof![
        Just("metadata".to_string()),
        Just("spec".to_string()),
        Just("status".to_string()),
        Just("name".to_string()),
        Just("labels".to_string()),
        Just("containers".to_string()),
        Just("data".to_string()),
        Just("$patch".to_string()),
        Just("$retainKeys".to_string()),
        Just("$setElementOrder/containers".to_string()),
        Just("op".to_string()),
        Just("path".to_string()),
        Just("from".to_string()),
        Just("value".to_string()),
        Just("managedFields".to_string()),
        "[a-z$/]{0,6}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            Just("add".to_string()),
            Just("copy".to_string()),
            Just("move".to_string()),
            Just("/spec/containers/0".to_string()),
            Just("/metadata/labels".to_string()),
            Just("replace".to_string()),
            Just("delete".to_string()),
            Just("merge".to_string()),
            "[ -~]{0,12}",
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Two JSON documents split by `0xFF`, as the two-document targets read
/// them.
fn two_documents() -> impl Strategy<Value = Vec<u8>> {
    (json_value(), json_value()).prop_map(|(a, b)| {
        let mut out = a.to_string().into_bytes();
        out.push(0xFF);
        out.extend_from_slice(b.to_string().as_bytes());
        out
    })
}

fn run_all(data: &[u8]) {
    for (_, target) in TARGETS {
        target(data);
    }
}

/// The rich objects of the seed corpus (every field the server reads).
fn rich_objects() -> Vec<serde_json::Value> {
    let dir = fuzz_dir().join("corpus/decode_json");
    let mut out: Vec<serde_json::Value> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            path.to_str()?.ends_with("_rich.json").then_some(())?;
            serde_json::from_slice(&std::fs::read(&path).ok()?).ok()
        })
        .collect();
    out.sort_by_key(|v| v.to_string());
    assert!(out.len() >= 5, "rich samples in {}", dir.display());
    out
}

/// Every JSON pointer into a value.
fn pointers(value: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let child = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(child.clone());
                pointers(v, child, out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let child = format!("{at}/{i}");
                out.push(child.clone());
                pointers(v, child, out);
            }
        }
        _ => {}
    }
}

/// A rich object with up to four of its values replaced by anything.
fn mutated_object() -> impl Strategy<Value = serde_json::Value> {
    let objects = rich_objects();
    (
        0..objects.len(),
        prop::collection::vec((any::<prop::sample::Index>(), json_value()), 1..5),
    )
        .prop_map(move |(which, changes)| {
            let mut object = objects[which].clone();
            for (index, value) in changes {
                let mut all = Vec::new();
                pointers(&object, String::new(), &mut all);
                if all.is_empty() {
                    break;
                }
                let at = &all[index.index(all.len())];
                if let Some(slot) = object.pointer_mut(at) {
                    *slot = value;
                }
            }
            object
        })
}

proptest! {
    #[test]
    fn objects_with_values_of_any_type_anywhere(object in mutated_object()) {
        let json = object.to_string();
        fuzz::decode_json(json.as_bytes());
        fuzz::decode_yaml(serde_yaml::to_string(&object).unwrap().as_bytes());
        // The object as the live one a patch or an apply changes.
        let mut two = json.clone().into_bytes();
        two.push(0xFF);
        two.extend_from_slice(b"{\"metadata\":{\"labels\":{\"x\":\"y\"}}}");
        fuzz::merge_patch(&two);
        fuzz::strategic_patch(&two);
        fuzz::server_side_apply(&two);
    }

    #[test]
    fn arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        run_all(&data);
    }

    #[test]
    fn json_documents(value in json_value()) {
        run_all(value.to_string().as_bytes());
    }

    #[test]
    fn objects_and_their_patches(data in two_documents()) {
        fuzz::merge_patch(&data);
        fuzz::strategic_patch(&data);
        fuzz::json_patch(&data);
        fuzz::server_side_apply(&data);
    }

    #[test]
    fn yaml_documents(value in json_value()) {
        let yaml = serde_yaml::to_string(&value).unwrap();
        fuzz::decode_yaml(yaml.as_bytes());
        fuzz::server_side_apply(yaml.as_bytes());
    }

    #[test]
    fn selector_texts(text in "[a-z0-9=!,()<> .\\-/_]{0,40}(in|notin)?[a-z(),! ]{0,20}") {
        fuzz::selectors(text.as_bytes());
    }

    #[test]
    fn quantity_texts(text in "[+-]?[0-9.]{0,30}([eE][+-]?[0-9]{0,25}|[numkMGTPE]|[KMGTPE]i)?") {
        fuzz::quantity(text.as_bytes());
    }
}
