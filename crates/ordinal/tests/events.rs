//! Events recorded by a controller show in `kubectl describe` and
//! `kubectl get events`, with repeats folded into a count.

mod common;

use std::time::Duration;

use common::{Ordinal, eventually};
use k8s_openapi::api::core::v1::ObjectReference;
use ordinal_core::events::{Recorder, Source};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_and_get_events_show_recorded_events() {
    let o = Ordinal::start();
    o.ok_stdin(
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n",
    );
    let uid = o.ok(&["get", "cm", "settings", "-o", "jsonpath={.metadata.uid}"]);
    let recorder = Recorder::new(
        o.client().await,
        Source {
            component: "test-controller".into(),
            host: "here".into(),
        },
    );
    let object = ObjectReference {
        kind: Some("ConfigMap".into()),
        api_version: Some("v1".into()),
        namespace: Some("default".into()),
        name: Some("settings".into()),
        uid: Some(uid),
        ..Default::default()
    };
    for _ in 0..3 {
        recorder.warning(&object, "Unhappy", "the settings are odd");
    }
    recorder.normal(&object, "Checked", "looked at the settings");

    let described = || o.ok(&["describe", "cm", "settings"]);
    eventually(
        "describe to list both events",
        Duration::from_secs(10),
        || {
            let text = described();
            text.contains("Unhappy") && text.contains("x3") && text.contains("Checked")
        },
    );
    let text = described();
    assert!(text.contains("test-controller"), "{text}");
    assert!(text.contains("the settings are odd"), "{text}");

    let events = o.ok(&["get", "events"]);
    let header: Vec<&str> = events.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    );
    assert!(events.contains("configmap/settings"), "{events}");
    assert!(events.contains("Warning"), "{events}");
}
