//! An event recorded through events.k8s.io/v1 (kube-rs's and client-go's
//! recorders use it) is the same event kubectl reads through core/v1:
//! `kubectl describe` and `kubectl events` show it.

mod common;

use std::time::Duration;

use common::{Ordinal, eventually};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_k8s_io_event_shows_in_describe_and_kubectl_events() {
    let o = Ordinal::start();
    o.ok_stdin(
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n",
    );
    let uid = o.ok(&["get", "cm", "settings", "-o", "jsonpath={.metadata.uid}"]);
    let events: Api<Event> = Api::namespaced(o.client().await, "default");
    let event = Event {
        metadata: ObjectMeta {
            name: Some("settings.recorded".into()),
            ..Default::default()
        },
        event_time: Some(MicroTime(jiff::Timestamp::now())),
        reporting_controller: Some("ordinal.dev/tester".into()),
        reporting_instance: Some("tester-1".into()),
        action: Some("Check".into()),
        reason: Some("Inspected".into()),
        note: Some("the settings were looked at".into()),
        type_: Some("Normal".into()),
        regarding: Some(ObjectReference {
            kind: Some("ConfigMap".into()),
            api_version: Some("v1".into()),
            namespace: Some("default".into()),
            name: Some("settings".into()),
            uid: Some(uid),
            ..Default::default()
        }),
        ..Default::default()
    };
    events
        .create(&PostParams::default(), &event)
        .await
        .expect("events.k8s.io/v1 create");

    eventually(
        "describe to show the event",
        Duration::from_secs(10),
        || {
            o.ok(&["describe", "cm", "settings"])
                .contains("the settings were looked at")
        },
    );
    let described = o.ok(&["describe", "cm", "settings"]);
    assert!(described.contains("Inspected"), "{described}");

    let listed = o.ok(&["events", "--for", "configmap/settings"]);
    assert!(listed.contains("Inspected"), "{listed}");
    assert!(listed.contains("the settings were looked at"), "{listed}");
    let core = o.ok(&[
        "get",
        "events.v1.",
        "settings.recorded",
        "-o",
        "jsonpath={.message}",
    ]);
    assert_eq!(core, "the settings were looked at");
}
