//! CustomResourceDefinitions as a kubectl user meets them, with every
//! kubectl from 1.27 to 1.33: a CRD applied is Established and its kind
//! usable at once (`kubectl wait`, `apply`, `get` with its printer
//! columns, `explain`); a bad object is refused with the schema's or the
//! CEL rule's message; a strategic merge patch is refused as upstream
//! refuses it; deleting the CRD takes its objects with it.

mod common;

use std::process::Output;

use common::Ordinal;

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
            description: What the database should be.
            required: [engine]
            x-kubernetes-validations:
            - rule: "self.replicas <= 5"
              message: "at most 5 replicas"
            properties:
              replicas: {type: integer, minimum: 1, default: 1}
              engine: {type: string, enum: [postgres, mysql]}
          status:
            type: object
            properties:
              phase: {type: string}
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Engine, type: string, jsonPath: .spec.engine}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Phase, type: string, jsonPath: .status.phase}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
"#;

fn database(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: example.com/v1\nkind: Database\nmetadata: {{name: {name}}}\nspec: {spec}\n"
    )
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run_at(o: &Ordinal, minor: u32, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = o
        .kubectl_at(minor)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn ok_at(o: &Ordinal, minor: u32, args: &[&str], stdin: Option<&str>) -> String {
    let out = run_at(o, minor, args, stdin);
    assert!(
        out.status.success(),
        "kubectl 1.{minor} {args:?}: {}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs kubectl 1.`minor`, which must fail saying `want`.
fn refused_at(o: &Ordinal, minor: u32, args: &[&str], stdin: Option<&str>, want: &str) {
    let out = run_at(o, minor, args, stdin);
    assert!(!out.status.success());
    assert!(text(&out).contains(want), "1.{minor}: {}", text(&out));
}

#[test]
fn every_kubectl_defines_uses_and_removes_a_custom_resource() {
    let o = Ordinal::start_with(&["--no-node"]);
    for minor in 27..=33 {
        let ns = format!("k{minor}");
        ok_at(&o, minor, &["create", "namespace", &ns], None);
        let created = ok_at(&o, minor, &["apply", "-f", "-"], Some(CRD));
        assert!(
            created.contains("customresourcedefinition.apiextensions.k8s.io/databases.example.com"),
            "{created}"
        );
        ok_at(
            &o,
            minor,
            &[
                "wait",
                "--for=condition=established",
                "--timeout=10s",
                "crd/databases.example.com",
            ],
            None,
        );
        let made = ok_at(
            &o,
            minor,
            &["apply", "-n", &ns, "-f", "-"],
            Some(&database("orders", "{engine: postgres, replicas: 3}")),
        );
        assert_eq!(
            made.trim(),
            "database.example.com/orders created",
            "1.{minor}"
        );
        // Defaulted by the schema.
        ok_at(
            &o,
            minor,
            &["apply", "-n", &ns, "-f", "-"],
            Some(&database("small", "{engine: mysql}")),
        );
        let table = ok_at(&o, minor, &["get", "db", "-n", &ns], None);
        let lines: Vec<&str> = table.lines().collect();
        let header: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(
            header,
            ["NAME", "ENGINE", "REPLICAS", "PHASE", "AGE"],
            "1.{minor}: {table}"
        );
        let orders: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            &orders[..3],
            ["orders", "postgres", "3"],
            "1.{minor}: {table}"
        );
        let small: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(&small[..3], ["small", "mysql", "1"], "1.{minor}: {table}");
        assert!(
            orders[3].ends_with('s') || orders[3].ends_with('m'),
            "an age: {table}"
        );

        // The schema and the CEL rule refuse bad objects with their words.
        refused_at(
            &o,
            minor,
            &["apply", "-n", &ns, "-f", "-"],
            Some(&database("bad", "{engine: oracle}")),
            r#"spec.engine: Unsupported value: "oracle": supported values: "postgres", "mysql""#,
        );
        refused_at(
            &o,
            minor,
            &["apply", "-n", &ns, "-f", "-"],
            Some(&database("big", "{engine: mysql, replicas: 9}")),
            "at most 5 replicas",
        );

        // Patches: merge works, strategic merge is refused as upstream.
        ok_at(
            &o,
            minor,
            &[
                "patch",
                "db",
                "orders",
                "-n",
                &ns,
                "--type=merge",
                "-p",
                r#"{"spec":{"replicas":4}}"#,
            ],
            None,
        );
        refused_at(
            &o,
            minor,
            &[
                "patch",
                "db",
                "orders",
                "-n",
                &ns,
                "-p",
                r#"{"spec":{"replicas":2}}"#,
            ],
            None,
            "application/merge-patch+json",
        );
        // The status subresource.
        ok_at(
            &o,
            minor,
            &[
                "patch",
                "db",
                "orders",
                "-n",
                &ns,
                "--type=merge",
                "--subresource=status",
                "-p",
                r#"{"status":{"phase":"Ready"}}"#,
            ],
            None,
        );
        let phase = ok_at(
            &o,
            minor,
            &[
                "get",
                "db",
                "orders",
                "-n",
                &ns,
                "-o",
                "jsonpath={.status.phase} {.spec.replicas}",
            ],
            None,
        );
        assert_eq!(phase, "Ready 4", "1.{minor}");

        // explain reads the CRD's schema.
        let explained = ok_at(&o, minor, &["explain", "databases.spec"], None);
        assert!(
            explained.contains("What the database should be."),
            "1.{minor}: {explained}"
        );
        assert!(explained.contains("engine"), "1.{minor}: {explained}");

        // Deleting the CRD removes its objects; the kind is gone.
        ok_at(
            &o,
            minor,
            &[
                "delete",
                "crd",
                "databases.example.com",
                "--wait=true",
                "--timeout=20s",
            ],
            None,
        );
        let out = run_at(
            &o,
            minor,
            &["get", "databases.example.com", "-n", &ns],
            None,
        );
        assert!(!out.status.success(), "1.{minor}: {}", text(&out));
    }
}
