//! End to end: persistent volumes and scheduling in `ordinal up`, driven
//! and observed with the real kubectl. A stand-in node agent
//! (`common::node`) registers Ready nodes and plays the kubelet; the
//! scheduler, binder, local-path provisioner, protection controllers and
//! resizer are ordinal's own.
//!
//! Every wait is a bounded poll.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::node::start_with_stand_in_nodes;
use common::{Ordinal, eventually, peek};

const WAIT: Duration = Duration::from_secs(60);

/// A StatefulSet `web` with one claim template `data` (1Gi, default
/// class), `extra` lines added to its spec (indented by two spaces).
fn web(replicas: u32, extra: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
{extra}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: c
        image: server
        command: [/bin/sleep, infinity]
        volumeMounts:
        - {{name: data, mountPath: /data}}
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
"#
    )
}

/// A jsonpath of one object; empty when it does not exist.
fn names(o: &Ordinal, kind: &str) -> Vec<String> {
    let out = o.ok(&["get", kind, "-o", "jsonpath={.items[*].metadata.name}"]);
    let mut v: Vec<String> = out.split_whitespace().map(str::to_string).collect();
    v.sort();
    v
}

/// `name=phase` of every claim, sorted.
fn claim_phases(o: &Ordinal) -> Vec<String> {
    let out = o.ok(&[
        "get",
        "pvc",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}={.status.phase}{\"\\n\"}{end}",
    ]);
    let mut v: Vec<String> = out.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// Names of the pods that run and are Ready.
fn running(o: &Ordinal) -> Vec<String> {
    let out = o.ok(&[
        "get",
        "pods",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.metadata.deletionTimestamp}{\"\\n\"}{end}",
    ]);
    let mut v: Vec<String> = out
        .lines()
        .filter_map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            (parts.len() == 2 && parts[1] == "Running").then(|| parts[0].to_string())
        })
        .collect();
    v.sort();
    v
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The directory behind a claim's volume.
fn claim_dir(o: &Ordinal, claim: &str) -> PathBuf {
    let volume = peek(o, &format!("pvc/{claim}"), "{.spec.volumeName}");
    assert!(!volume.is_empty(), "claim {claim} has no volume");
    PathBuf::from(peek(o, &format!("pv/{volume}"), "{.spec.hostPath.path}"))
}

/// `reason: message` of the events about an object.
fn events_of(o: &Ordinal, name: &str) -> Vec<String> {
    let out = o.ok(&[
        "get",
        "events",
        "--field-selector",
        &format!("involvedObject.name={name}"),
        "-o",
        "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
    ]);
    out.lines().map(str::to_string).collect()
}

fn has_event(o: &Ordinal, name: &str, wanted: &str) -> bool {
    events_of(o, name).iter().any(|e| e.contains(wanted))
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn the_default_class_is_local_path() {
    let (o, _nodes) = start_with_stand_in_nodes(&["node-1"]);
    eventually("the default class exists", WAIT, || {
        !peek(&o, "sc/local-path", "{.metadata.name}").is_empty()
    });
    let out = o.ok(&["get", "sc"]);
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "PROVISIONER",
            "RECLAIMPOLICY",
            "VOLUMEBINDINGMODE",
            "ALLOWVOLUMEEXPANSION",
            "AGE"
        ]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        &row[..6],
        [
            "local-path",
            "(default)",
            "ordinal.dev/local-path",
            "Delete",
            "WaitForFirstConsumer",
            "true"
        ]
    );
}

#[test]
fn statefulset_claims_are_provisioned_and_follow_their_pods() {
    let (o, _nodes) = start_with_stand_in_nodes(&["node-1"]);
    o.ok_stdin(&["apply", "-f", "-"], &web(3, ""));
    let all = strings(&["data-web-0=Bound", "data-web-1=Bound", "data-web-2=Bound"]);
    eventually("three claims bound", WAIT, || claim_phases(&o) == all);
    eventually("three pods running", WAIT, || {
        running(&o) == strings(&["web-0", "web-1", "web-2"])
    });

    // `kubectl get pvc` as upstream prints it.
    let out = o.ok(&["get", "pvc"]);
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "STATUS",
            "VOLUME",
            "CAPACITY",
            "ACCESS",
            "MODES",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "AGE"
        ]
    );
    for (i, line) in lines.enumerate() {
        let row: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(row[0], format!("data-web-{i}"));
        assert_eq!(row[1], "Bound");
        assert!(row[2].starts_with("pvc-"), "{line}");
        assert_eq!(
            &row[3..7],
            ["1Gi", "RWO", "local-path", "<unset>"],
            "{line}"
        );
    }
    // The volumes are directories under the data dir, pinned to the node.
    let base = std::fs::canonicalize(o.dir.join("volumes")).unwrap();
    let mut volumes = Vec::new();
    for i in 0..3 {
        let claim = format!("data-web-{i}");
        let dir = claim_dir(&o, &claim);
        assert!(dir.is_dir(), "{}", dir.display());
        assert_eq!(dir.parent(), Some(base.as_path()));
        let volume = peek(&o, &format!("pvc/{claim}"), "{.spec.volumeName}");
        assert_eq!(
            peek(
                &o,
                &format!("pv/{volume}"),
                "{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}"
            ),
            "node-1"
        );
        assert_eq!(
            peek(&o, &format!("pod/web-{i}"), "{.spec.nodeName}"),
            "node-1"
        );
        volumes.push(volume);
    }
    // `WaitForFirstConsumer` is not required: as upstream, it shows only
    // when the volume controller looks at the claim before the scheduler
    // has picked the pod's node, a race either may win (the binder's tests
    // cover the event).
    eventually("scheduling and provisioning are reported", WAIT, || {
        let claim = events_of(&o, "data-web-0").join("\n");
        has_event(
            &o,
            "web-0",
            "Scheduled: Successfully assigned default/web-0 to node-1",
        ) && [
            "ExternalProvisioning: Waiting for a volume to be created either by the external provisioner 'ordinal.dev/local-path'",
            "Provisioning: External provisioner is provisioning volume for claim \"default/data-web-0\"",
            "ProvisioningSucceeded: Successfully provisioned volume pvc-",
        ]
        .iter()
        .all(|e| claim.contains(e))
    });

    // Data written in web-1's volume survives the pod's deletion.
    let web1 = claim_dir(&o, "data-web-1");
    std::fs::write(web1.join("hostname"), "web-1").unwrap();
    let uid = peek(&o, "pod/web-1", "{.metadata.uid}");
    // Without waiting: the stand-in finishes the pod and the set replaces
    // it within milliseconds, faster than kubectl's wait can tell the two
    // pods apart.
    o.ok(&["delete", "pod", "web-1", "--wait=false"]);
    eventually("web-1 back", WAIT, || {
        let now = peek(&o, "pod/web-1", "{.metadata.uid}");
        !now.is_empty() && now != uid && running(&o).contains(&"web-1".to_string())
    });
    assert_eq!(peek(&o, "pvc/data-web-1", "{.spec.volumeName}"), volumes[1]);
    assert_eq!(
        std::fs::read_to_string(web1.join("hostname")).unwrap(),
        "web-1"
    );

    // Scaling down keeps the claims; scaling up gives web-1 its old one.
    o.ok(&["scale", "sts", "web", "--replicas=1"]);
    eventually("one pod left", WAIT, || {
        names(&o, "pods") == strings(&["web-0"])
    });
    assert_eq!(claim_phases(&o), all);
    o.ok(&["scale", "sts", "web", "--replicas=3"]);
    eventually("three pods again", WAIT, || {
        running(&o) == strings(&["web-0", "web-1", "web-2"])
    });
    assert_eq!(peek(&o, "pvc/data-web-1", "{.spec.volumeName}"), volumes[1]);
    assert_eq!(
        std::fs::read_to_string(web1.join("hostname")).unwrap(),
        "web-1"
    );

    // Deleting the set keeps the claims; a new set of that name takes
    // them back.
    o.ok(&["delete", "sts", "web"]);
    eventually("pods gone", WAIT, || names(&o, "pods").is_empty());
    assert_eq!(claim_phases(&o), all);
    o.ok_stdin(&["apply", "-f", "-"], &web(3, ""));
    eventually("the new set runs", WAIT, || {
        running(&o) == strings(&["web-0", "web-1", "web-2"])
    });
    for (i, volume) in volumes.iter().enumerate() {
        assert_eq!(
            &peek(&o, &format!("pvc/data-web-{i}"), "{.spec.volumeName}"),
            volume
        );
    }
    assert_eq!(
        std::fs::read_to_string(web1.join("hostname")).unwrap(),
        "web-1"
    );
    assert_eq!(names(&o, "pv").len(), 3);
}

#[test]
fn retention_policy_delete_removes_claims_and_their_directories() {
    let (o, _nodes) = start_with_stand_in_nodes(&["node-1"]);
    let policy =
        "  persistentVolumeClaimRetentionPolicy:\n    whenDeleted: Delete\n    whenScaled: Delete";
    o.ok_stdin(&["apply", "-f", "-"], &web(3, policy));
    eventually("three pods running", WAIT, || running(&o).len() == 3);
    let base = o.dir.join("volumes");
    assert_eq!(listing(&base).len(), 3);
    let gone = claim_dir(&o, "data-web-2");

    o.ok(&["scale", "sts", "web", "--replicas=1"]);
    eventually("scaled-down claims gone", WAIT, || {
        claim_phases(&o) == strings(&["data-web-0=Bound"])
    });
    eventually("their volumes and directories gone", WAIT, || {
        names(&o, "pv").len() == 1 && listing(&base).len() == 1
    });
    assert!(!gone.exists());

    o.ok(&["delete", "sts", "web"]);
    eventually("every claim gone", WAIT, || names(&o, "pvc").is_empty());
    eventually("every volume and directory gone", WAIT, || {
        names(&o, "pv").is_empty() && listing(&base).is_empty()
    });
}

#[test]
fn a_static_host_path_volume_binds_to_a_claim_and_is_retained() {
    let (o, _nodes) = start_with_stand_in_nodes(&["node-1"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().display().to_string();
    o.ok_stdin(
        &["apply", "-f", "-"],
        &format!(
            r#"
apiVersion: v1
kind: PersistentVolume
metadata:
  name: manual-pv
  labels: {{disk: ssd}}
spec:
  storageClassName: manual
  capacity: {{storage: 5Gi}}
  accessModes: [ReadWriteOnce]
  hostPath: {{path: "{path}"}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: manual-claim
spec:
  storageClassName: manual
  accessModes: [ReadWriteOnce]
  selector:
    matchLabels: {{disk: ssd}}
  resources:
    requests: {{storage: 1Gi}}
"#
        ),
    );
    eventually("the claim binds", WAIT, || {
        peek(&o, "pvc/manual-claim", "{.status.phase}") == "Bound"
    });
    assert_eq!(
        peek(&o, "pvc/manual-claim", "{.spec.volumeName}"),
        "manual-pv"
    );
    assert_eq!(
        peek(&o, "pvc/manual-claim", "{.status.capacity.storage}"),
        "5Gi"
    );
    // `kubectl get pv` as upstream prints it.
    let out = o.ok(&["get", "pv"]);
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "CAPACITY",
            "ACCESS",
            "MODES",
            "RECLAIM",
            "POLICY",
            "STATUS",
            "CLAIM",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "REASON",
            "AGE"
        ]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        &row[..8],
        [
            "manual-pv",
            "5Gi",
            "RWO",
            "Retain",
            "Bound",
            "default/manual-claim",
            "manual",
            "<unset>"
        ]
    );
    // The claim goes (nothing uses it); the volume is Released, its data kept.
    std::fs::write(dir.path().join("kept"), "yes").unwrap();
    o.ok(&["delete", "pvc", "manual-claim"]);
    eventually("the volume is released", WAIT, || {
        peek(&o, "pv/manual-pv", "{.status.phase}") == "Released"
    });
    assert!(dir.path().join("kept").exists());
}

#[test]
fn a_claim_in_use_stays_until_its_pod_is_gone() {
    let (o, _nodes) = start_with_stand_in_nodes(&["node-1"]);
    o.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: busy
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests: {storage: 1Gi}
---
apiVersion: v1
kind: Pod
metadata:
  name: user
spec:
  containers:
  - name: c
    image: server
    command: [/bin/sleep, infinity]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: busy}
"#,
    );
    eventually("the pod runs", WAIT, || running(&o) == strings(&["user"]));
    let dir = claim_dir(&o, "busy");
    assert_eq!(
        peek(&o, "pvc/busy", "{.metadata.finalizers}"),
        "[\"kubernetes.io/pvc-protection\"]"
    );
    o.ok(&["delete", "pvc", "busy", "--wait=false"]);
    // Held: Terminating while the pod runs.
    std::thread::sleep(Duration::from_millis(1500));
    let out = o.ok(&["get", "pvc", "busy"]);
    assert!(out.contains("Terminating"), "{out}");
    assert!(dir.is_dir());
    o.ok(&["delete", "pod", "user"]);
    eventually("the claim goes with its pod", WAIT, || {
        names(&o, "pvc").is_empty()
    });
    // Reclaim policy Delete: the volume and its directory go too.
    eventually("the volume and directory go", WAIT, || {
        names(&o, "pv").is_empty() && !dir.exists()
    });
}

#[test]
fn a_claim_expands_from_1gi_to_2gi() {
    let (o, _nodes) = start_with_stand_in_nodes(&["node-1"]);
    o.ok_stdin(&["apply", "-f", "-"], &web(1, ""));
    eventually("bound", WAIT, || {
        peek(&o, "pvc/data-web-0", "{.status.phase}") == "Bound"
    });
    o.ok(&[
        "patch",
        "pvc",
        "data-web-0",
        "-p",
        r#"{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}"#,
    ]);
    eventually("the claim shows 2Gi", WAIT, || {
        let out = o.ok(&["get", "pvc", "data-web-0", "--no-headers"]);
        out.split_whitespace().nth(3) == Some("2Gi")
    });
    let volume = peek(&o, "pvc/data-web-0", "{.spec.volumeName}");
    assert_eq!(
        peek(&o, &format!("pv/{volume}"), "{.spec.capacity.storage}"),
        "2Gi"
    );
    assert_eq!(peek(&o, "pvc/data-web-0", "{.status.conditions}"), "");
    eventually("the resize is reported", WAIT, || {
        has_event(
            &o,
            "data-web-0",
            "Resizing: External resizer is resizing volume",
        ) && has_event(
            &o,
            "data-web-0",
            "VolumeResizeSuccessful: Resize volume succeeded",
        )
    });

    // Shrinking is invalid.
    let out = o.run(&[
        "patch",
        "pvc",
        "data-web-0",
        "-p",
        r#"{"spec":{"resources":{"requests":{"storage":"1Gi"}}}}"#,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"
        ),
        "{err}"
    );
}

#[test]
fn a_claim_on_a_class_without_expansion_cannot_grow() {
    let (o, _nodes) = start_with_stand_in_nodes(&["node-1"]);
    let dir = tempfile::tempdir().unwrap();
    o.ok_stdin(
        &["apply", "-f", "-"],
        &format!(
            r#"
apiVersion: v1
kind: PersistentVolume
metadata: {{name: fixed-pv}}
spec:
  storageClassName: ""
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  hostPath: {{path: "{}"}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: fixed}}
spec:
  storageClassName: ""
  accessModes: [ReadWriteOnce]
  resources:
    requests: {{storage: 1Gi}}
"#,
            dir.path().display()
        ),
    );
    eventually("bound", WAIT, || {
        peek(&o, "pvc/fixed", "{.status.phase}") == "Bound"
    });
    let out = o.run(&[
        "patch",
        "pvc",
        "fixed",
        "-p",
        r#"{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}"#,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("persistentvolumeclaims \"fixed\" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"),
        "{err}"
    );
}

/// `(name, requested, capacity)` of every claim, by name.
fn claim_sizes(o: &Ordinal) -> Vec<(String, String, String)> {
    let out = o.ok(&[
        "get",
        "pvc",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.spec.resources.requests.storage} {.status.capacity.storage}{\"\\n\"}{end}",
    ]);
    let mut v: Vec<(String, String, String)> = out
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace().map(str::to_string);
            Some((
                parts.next()?,
                parts.next()?,
                parts.next().unwrap_or_default(),
            ))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_grown_claim_template_expands_every_claim_one_at_a_time() {
    let (o, _nodes) = start_with_stand_in_nodes(&["node-1"]);
    o.ok_stdin(&["apply", "-f", "-"], &web(3, ""));
    eventually("three ready pods", WAIT, || {
        peek(&o, "sts/web", "{.status.readyReplicas}") == "3"
    });
    let sized = |size: &str| -> Vec<(String, String, String)> {
        (0..3)
            .map(|i| (format!("data-web-{i}"), size.to_string(), size.to_string()))
            .collect()
    };
    assert_eq!(claim_sizes(&o), sized("1Gi"));
    let uids = || -> Vec<String> {
        (0..3)
            .map(|i| peek(&o, &format!("pod/web-{i}"), "{.metadata.uid}"))
            .collect()
    };
    let pods = uids();

    o.ok(&[
        "patch",
        "sts",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/volumeClaimTemplates/0/spec/resources/requests/storage","value":"2Gi"}]"#,
    ]);
    // Whenever we look: the claims asking for 2Gi are the first ones by
    // ordinal, and at most one of them is still growing.
    eventually("every claim asks for and has 2Gi", WAIT * 2, || {
        let now = claim_sizes(&o);
        let asked: Vec<bool> = now.iter().map(|(_, r, _)| r == "2Gi").collect();
        let growing = now.iter().filter(|(_, r, c)| r != c).count();
        assert!(
            asked.windows(2).all(|w| w[0] || !w[1]) && growing <= 1,
            "{now:?}"
        );
        now == sized("2Gi")
    });
    let volumes: Vec<String> = (0..3)
        .map(|i| peek(&o, &format!("pvc/data-web-{i}"), "{.spec.volumeName}"))
        .collect();
    for volume in &volumes {
        assert_eq!(
            peek(&o, &format!("pv/{volume}"), "{.spec.capacity.storage}"),
            "2Gi"
        );
    }
    eventually("an event for each claim", WAIT, || {
        (0..3).all(|i| {
            has_event(
                &o,
                "web",
                &format!("SuccessfulExpand: expand Claim data-web-{i} in StatefulSet web to 2Gi successful"),
            )
        })
    });

    // Shrinking is refused with the field and what may change.
    let out = o.run(&[
        "patch",
        "sts",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/volumeClaimTemplates/0/spec/resources/requests/storage","value":"1Gi"}]"#,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "spec.volumeClaimTemplates[0].spec.resources.requests.storage: Invalid value: \"1Gi\": may not be less than the previous value 2Gi"
        ),
        "{err}"
    );
    // So is another class.
    let out = o.run(&[
        "patch",
        "sts",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/spec/volumeClaimTemplates/0/spec/storageClassName","value":"fast"}]"#,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "spec.volumeClaimTemplates[0].spec.storageClassName: Invalid value: \"fast\": field is immutable"
        ),
        "{err}"
    );

    // A label on the template reaches every claim; the user's stay.
    o.ok(&["label", "pvc", "data-web-1", "owner=team-a"]);
    o.ok(&[
        "patch",
        "sts",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/spec/volumeClaimTemplates/0/metadata/labels","value":{"tier":"db"}}]"#,
    ]);
    eventually("the label on every claim", WAIT, || {
        (0..3).all(|i| peek(&o, &format!("pvc/data-web-{i}"), "{.metadata.labels.tier}") == "db")
    });
    assert_eq!(
        peek(&o, "pvc/data-web-1", "{.metadata.labels.owner}"),
        "team-a"
    );
    // None of this replaced a pod.
    assert_eq!(uids(), pods);
}

#[test]
fn an_added_claim_template_reaches_existing_pods_by_a_rolling_update() {
    let (o, _nodes) = start_with_stand_in_nodes(&["node-1"]);
    o.ok_stdin(&["apply", "-f", "-"], &web(2, ""));
    eventually("two ready pods", WAIT, || {
        peek(&o, "sts/web", "{.status.readyReplicas}") == "2"
    });
    let revision = peek(&o, "sts/web", "{.status.updateRevision}");
    o.ok(&[
        "patch",
        "sts",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/spec/volumeClaimTemplates/-","value":{"metadata":{"name":"logs"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}}]"#,
    ]);
    let all = strings(&[
        "data-web-0=Bound",
        "data-web-1=Bound",
        "logs-web-0=Bound",
        "logs-web-1=Bound",
    ]);
    eventually("the new claims bound", WAIT, || claim_phases(&o) == all);
    let mounts = |pod: &str| {
        peek(
            &o,
            &format!("pod/{pod}"),
            "{range .spec.volumes[*]}{.persistentVolumeClaim.claimName} {end}",
        )
    };
    eventually(
        "both pods replaced, mounting both claims, and ready",
        WAIT * 2,
        || {
            mounts("web-0").trim() == "data-web-0 logs-web-0"
                && mounts("web-1").trim() == "data-web-1 logs-web-1"
                && peek(&o, "sts/web", "{.status.readyReplicas}") == "2"
                && peek(&o, "sts/web", "{.status.updatedReplicas}") == "2"
        },
    );
    assert_eq!(peek(&o, "sts/web", "{.status.updateRevision}"), revision);
}

#[test]
fn a_claim_naming_a_missing_class_keeps_its_pod_pending_with_events() {
    let (o, _nodes) = start_with_stand_in_nodes(&["node-1"]);
    o.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: nowhere
spec:
  storageClassName: missing
  accessModes: [ReadWriteOnce]
  resources:
    requests: {storage: 1Gi}
---
apiVersion: v1
kind: Pod
metadata:
  name: waiting
spec:
  containers:
  - {name: c, image: server, command: [/bin/sleep, infinity]}
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: nowhere}
---
apiVersion: v1
kind: Pod
metadata:
  name: orphan
spec:
  containers:
  - {name: c, image: server, command: [/bin/sleep, infinity]}
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: nope}
"#,
    );
    eventually("the claim says why", WAIT, || {
        has_event(
            &o,
            "nowhere",
            "ProvisioningFailed: storageclass.storage.k8s.io \"missing\" not found",
        )
    });
    eventually("the pod says why", WAIT, || {
        has_event(
            &o,
            "waiting",
            "FailedScheduling: 0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
        )
    });
    eventually("a missing claim is named", WAIT, || {
        has_event(&o, "orphan", "persistentvolumeclaim \"nope\" not found")
    });
    for pod in ["waiting", "orphan"] {
        assert_eq!(peek(&o, &format!("pod/{pod}"), "{.spec.nodeName}"), "");
        assert_eq!(
            peek(
                &o,
                &format!("pod/{pod}"),
                "{.status.conditions[?(@.type==\"PodScheduled\")].reason}"
            ),
            "Unschedulable"
        );
    }
    assert_eq!(peek(&o, "pvc/nowhere", "{.status.phase}"), "Pending");

    // The class appears: the claim is provisioned and the pod placed.
    o.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: missing}
provisioner: ordinal.dev/local-path
volumeBindingMode: Immediate
"#,
    );
    eventually("the pod runs after all", WAIT, || {
        running(&o) == strings(&["waiting"])
    });
}

#[test]
fn a_volume_path_with_backsteps_is_invalid() {
    let o = Ordinal::start();
    let out = o.run_stdin(
        &["create", "-f", "-"],
        r#"
apiVersion: v1
kind: PersistentVolume
metadata: {name: escape}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: /var/lib/../../etc}
"#,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("The PersistentVolume \"escape\" is invalid: spec.hostPath.path: Invalid value: \"/var/lib/../../etc\": must not contain '..'"),
        "{err}"
    );
}

#[test]
fn an_unusable_base_directory_gives_provisioning_failed() {
    let (o, _nodes) = start_with_stand_in_nodes(&["node-1"]);
    // A file where the base directory should be: even root cannot make
    // directories in it.
    let data_dir = std::fs::canonicalize(&o.dir).unwrap();
    let volumes = data_dir.join("volumes");
    std::fs::create_dir_all(&volumes).unwrap();
    let blocker = volumes.join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let outside = "/proc/ordinal-volumes";
    // The data dir holds the CA key and the store: not a place for volumes.
    let beside_pki = data_dir.join("pki-neighbour");
    // A link under the volume root that leads out of it.
    let away = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(away.path(), volumes.join("escape")).unwrap();
    o.ok_stdin(
        &["apply", "-f", "-"],
        &format!(
            r#"
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {{name: blocked}}
provisioner: ordinal.dev/local-path
volumeBindingMode: Immediate
parameters: {{basePath: "{}"}}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {{name: outside}}
provisioner: ordinal.dev/local-path
volumeBindingMode: Immediate
parameters: {{basePath: "{outside}"}}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {{name: beside-pki}}
provisioner: ordinal.dev/local-path
volumeBindingMode: Immediate
parameters: {{basePath: "{}"}}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {{name: escape}}
provisioner: ordinal.dev/local-path
volumeBindingMode: Immediate
parameters: {{basePath: "{}"}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: beside-pki}}
spec:
  storageClassName: beside-pki
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: escape}}
spec:
  storageClassName: escape
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: blocked}}
spec:
  storageClassName: blocked
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: outside}}
spec:
  storageClassName: outside
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
"#,
            blocker.display(),
            beside_pki.display(),
            volumes.join("escape").join("vols").display(),
        ),
    );
    eventually("the unwritable base is reported", WAIT, || {
        has_event(
            &o,
            "blocked",
            "ProvisioningFailed: failed to provision volume with StorageClass \"blocked\": creating directory",
        )
    });
    eventually("the base outside the roots is refused", WAIT, || {
        has_event(&o, "outside", "is not inside an allowed volume root")
    });
    eventually("a base inside the data dir is refused", WAIT, || {
        has_event(&o, "beside-pki", "is not inside an allowed volume root")
    });
    eventually("a base through a link is refused", WAIT, || {
        has_event(&o, "escape", "passes through the symbolic link")
    });
    assert!(!Path::new(outside).exists());
    assert!(!beside_pki.exists());
    assert_eq!(std::fs::read_dir(away.path()).unwrap().count(), 0);
    assert_eq!(
        claim_phases(&o),
        strings(&[
            "beside-pki=Pending",
            "blocked=Pending",
            "escape=Pending",
            "outside=Pending"
        ])
    );
    // Still serving.
    o.ok(&["get", "pv"]);
}

#[test]
fn pods_go_where_their_volumes_and_selectors_allow() {
    let (o, _nodes) = start_with_stand_in_nodes(&["node-a", "node-b"]);
    let dir = tempfile::tempdir().unwrap();
    o.ok_stdin(
        &["apply", "-f", "-"],
        &format!(
            r#"
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {{name: local}}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolume
metadata: {{name: on-b}}
spec:
  storageClassName: local
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  local: {{path: "{}"}}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {{key: kubernetes.io/hostname, operator: In, values: [node-b]}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: pinned}}
spec:
  storageClassName: local
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: follows-volume}}
spec:
  containers:
  - {{name: c, image: server, command: [/bin/sleep, infinity]}}
  volumes:
  - name: data
    persistentVolumeClaim: {{claimName: pinned}}
---
apiVersion: v1
kind: Pod
metadata: {{name: picky}}
spec:
  nodeSelector: {{disk: ssd}}
  containers:
  - {{name: c, image: server, command: [/bin/sleep, infinity]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: someone-elses}}
spec:
  schedulerName: other-scheduler
  containers:
  - {{name: c, image: server, command: [/bin/sleep, infinity]}}
"#,
            dir.path().display()
        ),
    );
    eventually("the pod follows its volume to node-b", WAIT, || {
        peek(&o, "pod/follows-volume", "{.spec.nodeName}") == "node-b"
    });
    assert_eq!(peek(&o, "pvc/pinned", "{.spec.volumeName}"), "on-b");
    eventually("the picky pod says why", WAIT, || {
        has_event(
            &o,
            "picky",
            "FailedScheduling: 0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
        )
    });
    // A label makes node-a fit.
    o.ok(&["label", "node", "node-a", "disk=ssd"]);
    eventually("the picky pod lands on node-a", WAIT, || {
        peek(&o, "pod/picky", "{.spec.nodeName}") == "node-a"
    });
    assert_eq!(peek(&o, "pod/someone-elses", "{.spec.nodeName}"), "");
    assert!(events_of(&o, "someone-elses").is_empty());
}
