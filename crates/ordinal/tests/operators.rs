//! An operator as people write them, running on ordinal: a kopf operator
//! (Python) in a Deployment with its own ServiceAccount and RBAC, using
//! its in-cluster configuration, manages a CRD of its own (with a status
//! subresource and printer columns) and makes a StatefulSet for each of
//! its objects, owned by it.
//!
//! The operator's image is built by the test from this machine's Python
//! (the virtualenv `.ci/run` makes, with kopf pinned in
//! `tests/clients/requirements.txt`): the interpreter with its libraries,
//! its standard library, and kopf with what it depends on.
//!
//! Every wait is a bounded poll.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Ordinal, images};
use ordinal_image::build::ImageBuilder;

/// The virtualenv's Python with kopf: `$ORDINAL_TEST_PYTHON`, or the one
/// `.ci/run` makes in the target dir. Missing, the test fails at once
/// saying how to make it.
fn python() -> PathBuf {
    let requirements = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/requirements.txt");
    let how = format!(
        "make the virtualenv as .ci/run does: python3 -m venv \"${{CARGO_TARGET_DIR:-target}}/pyenv\" \
         && \"${{CARGO_TARGET_DIR:-target}}/pyenv/bin/pip\" install -r {} \
         (Debian: apt-get install python3-venv), or set ORDINAL_TEST_PYTHON to a python that has kopf",
        requirements.display()
    );
    let python = match std::env::var_os("ORDINAL_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => {
            let exe = std::env::current_exe().expect("the test binary's path");
            exe.ancestors()
                .nth(3)
                .expect("the test binary lives in TARGET/PROFILE/deps")
                .join("pyenv/bin/python")
        }
    };
    assert!(python.exists(), "no Python at {}: {how}", python.display());
    let check = Command::new(&python)
        .args(["-c", "import kopf"])
        .output()
        .expect("python runs");
    assert!(
        check.status.success(),
        "{} cannot import kopf: {}\n{how}",
        python.display(),
        String::from_utf8_lossy(&check.stderr)
    );
    python
}

/// Where this Python's pieces are: the real interpreter, its standard
/// library, and the top-level files of kopf and its dependencies.
struct Layout {
    exe: PathBuf,
    stdlib: PathBuf,
    packages: Vec<PathBuf>,
}

const LAYOUT: &str = r#"
import importlib.metadata as md, json, os, re, sys, sysconfig
seen = set()
def walk(name):
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        return
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        return
    seen.add(key)
    for req in dist.requires or []:
        if ";" in req and "extra" in req.split(";", 1)[1]:
            continue
        walk(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0])
walk("kopf")
tops = set()
for key in seen:
    dist = md.distribution(key)
    for f in dist.files or []:
        if f.parts and f.parts[0] != "..":
            tops.add(str(dist.locate_file(f.parts[0])))
print(json.dumps({
    "exe": os.path.realpath(sys._base_executable),
    "stdlib": sysconfig.get_paths()["stdlib"],
    "packages": sorted(tops),
}))
"#;

fn layout(python: &Path) -> Layout {
    let out = Command::new(python)
        .args(["-c", LAYOUT])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the layout as JSON");
    Layout {
        exe: PathBuf::from(v["exe"].as_str().unwrap()),
        stdlib: PathBuf::from(v["stdlib"].as_str().unwrap()),
        packages: v["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| PathBuf::from(p.as_str().unwrap()))
            .collect(),
    }
}

/// Copies `from` to `to`, leaving out what an operator never imports
/// (tests, IDLE, Tk, installers, compiled caches, other site-packages).
fn copy_stdlib(from: &Path, to: &Path) {
    const SKIPPED: &[&str] = &[
        "test",
        "tests",
        "idlelib",
        "tkinter",
        "turtledemo",
        "ensurepip",
        "lib2to3",
        "site-packages",
        "dist-packages",
        "__pycache__",
        "lib-dynload",
    ];
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if SKIPPED.contains(&name.as_ref()) || name.starts_with("config-") || name.ends_with(".pyc")
        {
            continue;
        }
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_stdlib(&entry.path(), &to.join(&*name));
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(&*name)).unwrap();
        }
    }
}

const SITE: &str = "/opt/operator/site";

const OPERATOR: &str = r#"
import os, ssl
import aiohttp
import kopf

SA = "/var/run/secrets/kubernetes.io/serviceaccount"

async def api(method, path, body=None):
    url = "https://%s:%s%s" % (os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"], path)
    with open(SA + "/token") as f:
        token = f.read()
    context = ssl.create_default_context(cafile=SA + "/ca.crt")
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, json=body, ssl=context,
                                   headers={"Authorization": "Bearer " + token}) as answer:
            return answer.status, await answer.json()

@kopf.on.create("example.com", "v1", "databases")
async def create(spec, name, namespace, body, patch, logger, **_):
    labels = {"app": name}
    sts = {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "serviceName": name, "replicas": spec.get("replicas", 1),
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "db", "image": "busybox:1.36", "imagePullPolicy": "Never",
                                "command": ["sh", "-c", "exec sleep 3600"],
                                "env": [{"name": "ENGINE", "value": spec["engine"]}]}]}},
        },
    }
    kopf.adopt(sts, owner=body)
    code, answer = await api("POST", "/apis/apps/v1/namespaces/%s/statefulsets" % namespace, sts)
    if code not in (201, 409):
        raise kopf.TemporaryError("creating the StatefulSet: %s %s" % (code, answer), delay=2)
    logger.info("made StatefulSet %s", name)
    patch.status["phase"] = "Provisioned"
"#;

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: databases.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: databases, singular: database, kind: Database, shortNames: [db]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [engine]
            properties:
              engine: {type: string, enum: [postgres, mysql]}
              replicas: {type: integer, minimum: 1, default: 1}
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Engine, type: string, jsonPath: .spec.engine}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Phase, type: string, jsonPath: .status.phase}
"#;

const OPERATOR_DEPLOYMENT: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: db-operator}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: db-operator}
rules:
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: db-operator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: db-operator}
subjects: [{kind: ServiceAccount, name: db-operator, namespace: default}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: db-operator}
rules:
- apiGroups: [example.com]
  resources: [databases, databases/status]
  verbs: [get, list, watch, patch, update]
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [get, list, create]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: db-operator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: db-operator}
subjects: [{kind: ServiceAccount, name: db-operator, namespace: default}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db-operator}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: db-operator}}
  template:
    metadata: {labels: {app: db-operator}}
    spec:
      serviceAccountName: db-operator
      containers:
      - name: operator
        image: db-operator:test
        imagePullPolicy: Never
        command: [EXE, -m, kopf, run, /opt/operator/operator.py, --namespace=default, --standalone]
        env:
        - {name: PYTHONPATH, value: /opt/operator/site}
        - {name: PYTHONUNBUFFERED, value: "1"}
"#;

/// busybox, this machine's Python at its own path with its libraries and
/// standard library, kopf and its dependencies, and the operator.
fn operator_archive(layout: &Layout, scratch: &Path) -> Vec<u8> {
    let stdlib = scratch.join("stdlib");
    copy_stdlib(&layout.stdlib, &stdlib);
    let site = scratch.join("site");
    std::fs::create_dir_all(&site).unwrap();
    for top in &layout.packages {
        let name = top.file_name().unwrap();
        let dest = site.join(name);
        if top.is_dir() {
            copy_stdlib(top, &dest);
        } else if top.is_file() {
            std::fs::copy(top, &dest).unwrap();
        }
    }
    let exe = layout.exe.to_string_lossy().into_owned();
    let stdlib_at = layout.stdlib.to_string_lossy().into_owned();
    // Extension modules (ssl, asyncio's, zlib…) with the libraries they link.
    let dynload: Vec<(PathBuf, String)> = std::fs::read_dir(layout.stdlib.join("lib-dynload"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "so"))
                .map(|p| {
                    let at = p.to_string_lossy().into_owned();
                    (p, at)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut programs: Vec<(&Path, &str)> = vec![(layout.exe.as_path(), exe.as_str())];
    programs.extend(dynload.iter().map(|(p, at)| (p.as_path(), at.as_str())));
    let image = ImageBuilder::busybox()
        .unwrap_or_else(|e| panic!("building the operator image: {e}"))
        .layer()
        .add_programs(&programs)
        .unwrap_or_else(|e| panic!("adding Python: {e}"))
        .add_dir(&stdlib, &stdlib_at)
        .unwrap_or_else(|e| panic!("adding the standard library: {e}"))
        .add_dir(&site, SITE)
        .unwrap_or_else(|e| panic!("adding kopf: {e}"))
        .add_bytes("/opt/operator/operator.py", OPERATOR.as_bytes(), 0o644)
        .build();
    images::archive(&image, "db-operator:test")
}

#[test]
fn a_kopf_operator_in_a_deployment_manages_its_resources() {
    let python = python();
    let layout = layout(&python);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    images::prepare(&dir);
    images::import(
        &dir,
        "db-operator",
        &operator_archive(&layout, &tmp.path().join("scratch")),
    );
    let o = Ordinal::start_on(&dir);

    o.ok_stdin(&["apply", "-f", "-"], CRD);
    o.ok(&[
        "wait",
        "--for=condition=established",
        "--timeout=10s",
        "crd/databases.example.com",
    ]);
    let deployment = OPERATOR_DEPLOYMENT.replace("EXE", &layout.exe.to_string_lossy());
    o.ok_stdin(&["apply", "-f", "-"], &deployment);
    o.ok(&[
        "rollout",
        "status",
        "deployment/db-operator",
        "--timeout=120s",
    ]);

    o.ok_stdin(
        &["apply", "-f", "-"],
        "apiVersion: example.com/v1\nkind: Database\nmetadata: {name: orders}\nspec: {engine: postgres, replicas: 2}\n",
    );
    let mut table = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !table.contains("Provisioned") {
        if std::time::Instant::now() > deadline {
            let logs = o.run(&["logs", "deployment/db-operator"]);
            panic!(
                "the operator did not provision the database:\n{table}\n{}{}",
                String::from_utf8_lossy(&logs.stdout),
                String::from_utf8_lossy(&logs.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
        table = String::from_utf8_lossy(&o.run(&["get", "databases"]).stdout).into_owned();
    }
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        &row[..4],
        ["orders", "postgres", "2", "Provisioned"],
        "{table}"
    );
    let owner = o.ok(&[
        "get",
        "sts",
        "orders",
        "-o",
        "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}",
    ]);
    assert_eq!(owner, "Database/orders");
    o.ok(&["rollout", "status", "statefulset/orders", "--timeout=120s"]);
    let logs = o.ok(&["logs", "deployment/db-operator"]);
    assert!(logs.contains("made StatefulSet orders"), "{logs}");
}
