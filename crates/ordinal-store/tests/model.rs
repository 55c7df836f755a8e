//! Property test: random writes on a few keys, checked against a plain
//! `BTreeMap` model, before and after reopening the store.

use std::collections::BTreeMap;

use ordinal_store::{EventType, Store, StoreConfig, StoreError};
use proptest::prelude::*;
use serde_json::json;

const KEYS: [&str; 4] = ["/r/a/x", "/r/a/y", "/r/b/x", "/r/a"];

#[derive(Debug, Clone)]
enum Op {
    Create(usize, u8),
    /// Update with the right expected revision, or a wrong one.
    Update(usize, u8, bool),
    /// Delete unconditionally, with the right revision, or a wrong one.
    Delete(usize, Option<bool>),
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    prop_oneof![
        (key.clone(), any::<u8>()).prop_map(|(k, v)| Op::Create(k, v)),
        (key.clone(), any::<u8>(), prop::bool::weighted(0.8))
            .prop_map(|(k, v, ok)| Op::Update(k, v, ok)),
        (key, prop::option::of(prop::bool::weighted(0.8))).prop_map(|(k, ok)| Op::Delete(k, ok)),
    ]
}

/// Key to (mod revision, value).
type State = BTreeMap<String, (u64, u8)>;

#[derive(Debug, PartialEq)]
enum Outcome {
    Ok(u64),
    AlreadyExists,
    NotFound,
    Conflict(u64),
}

fn outcome(result: Result<u64, StoreError>) -> Outcome {
    match result {
        Ok(rev) => Outcome::Ok(rev),
        Err(StoreError::AlreadyExists) => Outcome::AlreadyExists,
        Err(StoreError::NotFound) => Outcome::NotFound,
        Err(StoreError::Conflict { current_rev }) => Outcome::Conflict(current_rev),
        Err(other) => panic!("unexpected error {other}"),
    }
}

/// Applies `op` to the model; returns the expected outcome.
fn model_apply(state: &mut State, rev: u64, op: &Op) -> Outcome {
    let next = rev + 1;
    match *op {
        Op::Create(k, v) => {
            if state.contains_key(KEYS[k]) {
                return Outcome::AlreadyExists;
            }
            state.insert(KEYS[k].into(), (next, v));
        }
        Op::Update(k, v, right) => match state.get(KEYS[k]) {
            None => return Outcome::NotFound,
            Some(&(cur, _)) if !right => return Outcome::Conflict(cur),
            Some(_) => {
                state.insert(KEYS[k].into(), (next, v));
            }
        },
        Op::Delete(k, precondition) => match (state.get(KEYS[k]), precondition) {
            (None, _) => return Outcome::NotFound,
            (Some(&(cur, _)), Some(false)) => return Outcome::Conflict(cur),
            _ => {
                state.remove(KEYS[k]);
            }
        },
    }
    Outcome::Ok(next)
}

fn value(v: u8) -> serde_json::Value {
    json!({"metadata": {"name": "o"}, "spec": {"v": v}})
}

fn contents<'a>(objects: impl Iterator<Item = &'a std::sync::Arc<ordinal_store::Object>>) -> State {
    objects
        .map(|o| {
            let value = o.value();
            assert_eq!(value["metadata"]["resourceVersion"], o.rev.to_string());
            (
                o.key.to_string(),
                (o.rev, value["spec"]["v"].as_u64().unwrap() as u8),
            )
        })
        .collect()
}

/// Replays a watch from `from` and checks each event moves the state from
/// `states[rev - 1]` to `states[rev]`.
fn check_watch(store: &Store, states: &[State], from: u64) {
    let mut w = store.watch("/r/", from).unwrap();
    let mut state = states[from as usize].clone();
    let mut expected_rev = from + 1;
    while let Some(event) = w.try_recv() {
        assert_eq!(
            event.rev(),
            expected_rev,
            "consecutive, in order, no duplicates"
        );
        let prev_in_model = state.get(event.key()).map(|&(rev, _)| rev);
        assert_eq!(event.prev.as_ref().map(|p| p.rev), prev_in_model);
        match event.kind {
            EventType::Added | EventType::Modified => {
                assert_eq!(event.kind == EventType::Added, prev_in_model.is_none());
                let v = event.object.value()["spec"]["v"].as_u64().unwrap() as u8;
                state.insert(event.key().into(), (event.rev(), v));
            }
            EventType::Deleted => {
                let v = event.object.value();
                assert_eq!(v["metadata"]["resourceVersion"], event.rev().to_string());
                state.remove(event.key());
            }
        }
        assert_eq!(state, states[event.rev() as usize]);
        expected_rev += 1;
    }
    assert_eq!(expected_rev, states.len() as u64, "every event up to now");
    assert_eq!(w.bookmark_rev(), Some(states.len() as u64 - 1));
}

fn check_snapshots(store: &Store, states: &[State], from: u64) {
    for rev in from..states.len() as u64 {
        let snap = store.snapshot_at(rev).unwrap();
        assert_eq!(
            contents(snap.range("/", None)),
            states[rev as usize],
            "at {rev}"
        );
    }
}

fn run(ops: Vec<Op>, log_retention: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = StoreConfig::new(dir.path().join("db"));
    config.log_retention = log_retention;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = Store::open(config.clone()).unwrap();

    // states[r] is the model after revision r.
    let mut states = vec![State::new()];
    for op in &ops {
        let rev = states.len() as u64 - 1;
        let mut next = states[rev as usize].clone();
        let expected = model_apply(&mut next, rev, op);
        let current = |k: usize| states[rev as usize].get(KEYS[k]).map_or(0, |&(r, _)| r);
        let result = runtime.block_on(async {
            match *op {
                Op::Create(k, v) => store.create(KEYS[k].into(), value(v)).await,
                Op::Update(k, v, right) => {
                    let expected = if right { current(k) } else { current(k) + 1000 };
                    store.update(KEYS[k].into(), value(v), expected).await
                }
                Op::Delete(k, precondition) => {
                    let expected = precondition
                        .map(|right| if right { current(k) } else { current(k) + 1000 });
                    store.delete(KEYS[k].into(), expected).await
                }
            }
        });
        let got = outcome(result.map(|o| o.rev));
        assert_eq!(got, expected, "{op:?}");
        if matches!(got, Outcome::Ok(_)) {
            states.push(next);
        }
        assert_eq!(store.revision(), states.len() as u64 - 1);
    }

    let last = states.len() as u64 - 1;
    assert_eq!(
        contents(store.snapshot().range("/", None)),
        states[last as usize]
    );
    check_snapshots(&store, &states, 0);
    check_watch(&store, &states, 0);
    store.close();

    // After a restart: the same contents, and the log window replays exactly.
    let store = Store::open(config).unwrap();
    assert_eq!(store.revision(), last);
    assert_eq!(
        contents(store.snapshot().range("/", None)),
        states[last as usize]
    );
    let floor = store.stats().history_floor;
    assert!(floor <= last && last - floor <= log_retention + log_retention / 8);
    check_snapshots(&store, &states, floor);
    check_watch(&store, &states, floor);
    if floor > 0 {
        assert!(matches!(
            store.watch("/r/", floor - 1),
            Err(StoreError::Expired { .. })
        ));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn store_matches_a_map_model(ops in prop::collection::vec(op(), 1..40), retention in 1u64..24) {
        run(ops, retention);
    }
}
