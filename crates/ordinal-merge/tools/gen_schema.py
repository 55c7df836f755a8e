#!/usr/bin/env python3
"""Generates src/schema/tables.rs: the patch metadata of the served kinds.

Upstream's markers (+patchStrategy, +patchMergeKey, +listType, +listMapKey,
+mapType, +structType) reach us through the doc comments that the k8s-pb
crate keeps from the .proto files; the JSON field names (and which proto
fields are Go `json:",inline"` embeddings) come from k8s-openapi's serde code.
k8s-openapi 0.29 is a workspace dependency; k8s-pb 0.9.0 (a 1.3x API, newer
than the 1.33 we serve: extra fields do no harm) is not, so fetch its
source first, e.g. in a scratch crate:
    cargo new /tmp/pb && cd /tmp/pb && cargo add k8s-pb@0.9.0 && cargo fetch

Run from the crate directory:  python3 tools/gen_schema.py > src/schema/tables.rs
then `cargo fmt -p ordinal-merge`.
"""
import glob
import os
import re
import sys

REG = glob.glob(os.path.expanduser("~/.cargo/registry/src/*/"))
PB = next(glob.glob(r + "k8s-pb-0.9.0/src")[0] for r in REG if glob.glob(r + "k8s-pb-0.9.0/src"))
OA = next(glob.glob(r + "k8s-openapi-0.29.0/src/v1_35")[0] for r in REG if glob.glob(r + "k8s-openapi-0.29.0/src/v1_35"))

# proto package path -> k8s-openapi directory
PACKAGES = {
    "api::core::v1": "api/core/v1",
    "api::apps::v1": "api/apps/v1",
    "api::batch::v1": "api/batch/v1",
    "api::coordination::v1": "api/coordination/v1",
    "api::discovery::v1": "api/discovery/v1",
    "api::events::v1": "api/events/v1",
    "api::storage::v1": "api/storage/v1",
    "api::node::v1": "api/node/v1",
    "api::rbac::v1": "api/rbac/v1",
    "api::policy::v1": "api/policy/v1",
    "api::scheduling::v1": "api/scheduling/v1",
    "apimachinery::pkg::apis::meta::v1": "apimachinery/pkg/apis/meta/v1",
}

# Served kinds: (group, kind, package, message)
KINDS = [
    ("", "ConfigMap", "api::core::v1", "ConfigMap"),
    ("", "Endpoints", "api::core::v1", "Endpoints"),
    ("", "Event", "api::core::v1", "Event"),
    ("", "Namespace", "api::core::v1", "Namespace"),
    ("", "Node", "api::core::v1", "Node"),
    ("", "PersistentVolumeClaim", "api::core::v1", "PersistentVolumeClaim"),
    ("", "PersistentVolume", "api::core::v1", "PersistentVolume"),
    ("", "Pod", "api::core::v1", "Pod"),
    ("", "Secret", "api::core::v1", "Secret"),
    ("", "ServiceAccount", "api::core::v1", "ServiceAccount"),
    ("", "Service", "api::core::v1", "Service"),
    ("apps", "ControllerRevision", "api::apps::v1", "ControllerRevision"),
    ("apps", "Deployment", "api::apps::v1", "Deployment"),
    ("apps", "ReplicaSet", "api::apps::v1", "ReplicaSet"),
    ("apps", "StatefulSet", "api::apps::v1", "StatefulSet"),
    ("batch", "CronJob", "api::batch::v1", "CronJob"),
    ("batch", "Job", "api::batch::v1", "Job"),
    ("coordination.k8s.io", "Lease", "api::coordination::v1", "Lease"),
    ("discovery.k8s.io", "EndpointSlice", "api::discovery::v1", "EndpointSlice"),
    ("events.k8s.io", "Event", "api::events::v1", "Event"),
    ("storage.k8s.io", "StorageClass", "api::storage::v1", "StorageClass"),
    ("node.k8s.io", "RuntimeClass", "api::node::v1", "RuntimeClass"),
    ("rbac.authorization.k8s.io", "ClusterRole", "api::rbac::v1", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", "api::rbac::v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io", "Role", "api::rbac::v1", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding", "api::rbac::v1", "RoleBinding"),
    ("policy", "PodDisruptionBudget", "api::policy::v1", "PodDisruptionBudget"),
    ("scheduling.k8s.io", "PriorityClass", "api::scheduling::v1", "PriorityClass"),
]

MARK = re.compile(r"^\s*///\s*\+(patchStrategy|patchMergeKey|listType|listMapKey|mapType|structType)=(\S+)\s*$")


def parse_pb(pkg):
    path = os.path.join(PB, pkg.replace("::", "/"), "mod.rs")
    lines = open(path).read().split("\n")
    structs = {}
    marks = []
    i = 0
    cur = None
    while i < len(lines):
        line = lines[i]
        m = MARK.match(line)
        if m:
            marks.append((m.group(1), m.group(2)))
        elif line.startswith("pub struct "):
            name = line.split()[2]
            cur = {"marks": marks, "fields": []}
            structs[name] = cur
            marks = []
        elif cur is not None and line.startswith("    pub "):
            decl = line
            while (not decl.rstrip().endswith(",") or decl.count("<") != decl.count(">")) and i + 1 < len(lines):
                i += 1
                decl += " " + lines[i].strip()
            fm = re.match(r"\s*pub (r#)?(\w+):\s*(.*),\s*$", decl)
            cur["fields"].append((fm.group(2), fm.group(3), marks))
            marks = []
        elif line.startswith("}"):
            cur = None
            marks = []
        elif not line.strip().startswith("///") and not line.strip().startswith("#["):
            if line.strip():
                marks = []
        i += 1
    return structs


def resolve(ty, pkg):
    """(container, (package, message) or None)."""
    ty = ty.replace(" ", "")
    container = "one"
    if ty.startswith("::prost::alloc::vec::Vec<"):
        container = "list"
        inner = ty[len("::prost::alloc::vec::Vec<"):-1]
    elif ty.startswith("::prost::alloc::collections::BTreeMap<"):
        container = "map"
        inner = ty[len("::prost::alloc::collections::BTreeMap<"):-1]
        inner = inner.split(",", 1)[1].rstrip(",")
    elif ty.startswith("::core::option::Option<"):
        inner = ty[len("::core::option::Option<"):-1]
    else:
        inner = ty
    if inner.startswith("::") or inner in ("bool", "i32", "i64", "f64", "u32", "f32"):
        return container, None
    parts = inner.split("::")
    name = parts[-1]
    if len(parts) == 1:
        return container, (pkg, name)
    # super::super::super::apimachinery::pkg::apis::meta::v1::X or super::super::core::v1::X
    rest = [p for p in parts[:-1] if p != "super"]
    if rest[0] != "apimachinery" and rest[0] != "api":
        rest = ["api"] + rest
    return container, ("::".join(rest), name)


def openapi_names():
    """struct name -> {normalized field name: json name}, per package."""
    out = {}
    for pkg, d in PACKAGES.items():
        per = {}
        for f in glob.glob(os.path.join(OA, d, "*.rs")):
            text = open(f).read()
            sm = re.search(r"^pub struct (\w+)", text, re.M)
            if not sm:
                continue
            names = {}
            for jm in re.finditer(r'^\s*"([A-Za-z0-9$]+)" => Field::Key_(\w+),', text, re.M):
                names[jm.group(1).lower().replace("_", "")] = jm.group(1)
            per[sm.group(1).lower()] = names
        out[pkg] = per
    return out


ALL = {pkg: parse_pb(pkg) for pkg in PACKAGES}
NAMES = openapi_names()
SCALAR_MESSAGES = {"Time", "MicroTime", "Quantity", "IntOrString", "RawExtension", "Duration", "FieldsV1", "Verbs"}


def fields_of(pkg, name, outer=None):
    """Flattened JSON fields: (json, container, target, marks)."""
    st = ALL[pkg][name]
    names = outer if outer is not None else NAMES[pkg].get(name.lower())
    if names is None:
        sys.stderr.write(f"no k8s-openapi struct for {name}\n")
        names = {}
    out = []
    for snake, ty, marks in st["fields"]:
        container, target = resolve(ty, pkg)
        if target and (target[0] not in ALL or target[1] in SCALAR_MESSAGES):
            target = None
        key = snake.replace("_", "")
        if key in names:
            out.append((names[key], container, target, marks))
        elif target and container == "one" and any(
            f.replace("_", "") in names for f, _, _ in ALL[target[0]][target[1]]["fields"]
        ):
            # a Go inline embedding (VolumeSource in Volume, ...)
            sys.stderr.write(f"inline: {name}.{snake} -> {target[1]}\n")
            out.extend(fields_of(target[0], target[1], names))
        else:
            sys.stderr.write(f"skipped (not in k8s-openapi): {name}.{snake}\n")
    return out


def type_atomic(target):
    return target is not None and ("structType", "atomic") in ALL[target[0]][target[1]]["marks"]


def info(json_name, container, target, marks):
    d = dict(marks)
    keys = [v for k, v in marks if k == "listMapKey"]
    strategy = d.get("patchStrategy", "")
    merge_key = d.get("patchMergeKey")
    lt = None
    if container == "list":
        lt = d.get("listType")
        if lt is None:
            if "merge" in strategy.split(","):
                lt = "map" if merge_key else "set"
            else:
                lt = "atomic"
        if lt == "map" and not keys:
            keys = [merge_key]
    atomic = d.get("mapType") == "atomic" or d.get("structType") == "atomic" or (container != "list" and type_atomic(target))
    if container == "list" and type_atomic(target):
        pass  # element atomicity is the element type's business
    return strategy, merge_key, lt, keys, atomic


def rust_ident(pkg, name):
    p = pkg.split("::")
    short = {"core": "CORE", "apps": "APPS", "batch": "BATCH", "coordination": "COORD", "discovery": "DISC", "events": "EVENTS", "storage": "STORAGE", "node": "NODE", "policy": "POLICY", "rbac": "RBAC", "scheduling": "SCHED", "meta": "META"}
    tag = short[p[-2]]
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).upper()
    return f"{tag}_{snake}"


memo = {}


def interesting(target, stack=()):
    """Whether a type (transitively) has any non-default field."""
    if target is None:
        return False
    if target in memo:
        return memo[target]
    if target in stack:
        return False
    res = type_atomic(target)
    for j, c, t, m in fields_of(*target):
        strategy, mk, lt, keys, atomic = info(j, c, t, m)
        if strategy or mk or lt not in (None, "atomic") or atomic or interesting(t, stack + (target,)):
            res = True
    memo[target] = res
    return res


emitted = {}
order = []


def emit(target):
    if target in emitted:
        return
    emitted[target] = None
    rows = []
    for j, c, t, m in sorted(fields_of(*target), key=lambda x: x[0]):
        strategy, mk, lt, keys, atomic = info(j, c, t, m)
        sub = t if interesting(t) else None
        default = not strategy and not mk and lt in (None, "atomic") and not atomic
        if c == "one" and sub is None and t is not None and not default:
            # a struct tagged as a whole (Deployment's retainKeys `strategy`)
            # whose own fields are all plain
            sub = t
        if default and sub is None:
            continue
        if sub:
            emit(sub)
        rows.append((j, c, sub, strategy, mk, lt, keys, atomic))
    order.append((target, rows))


STRAT = {"": "Replace", "replace": "Replace", "merge": "Merge", "retainKeys": "RetainKeys", "merge,retainKeys": "MergeRetainKeys"}


def main():
    roots = []
    for g, k, pkg, msg in KINDS:
        emit((pkg, msg))
        roots.append((g, k, rust_ident(pkg, msg)))
    print("//! Generated by `tools/gen_schema.py` from upstream's markers; do not edit.")
    print()
    print("use super::{Field, ListType, PatchStrategy, Shape, Type};")
    print()
    for target, rows in order:
        ident = rust_ident(*target)
        print(f"/// `{target[0].replace('::', '.')}.{target[1]}`")
        print(f"pub(super) static {ident}: Type = Type {{")
        print(f"    atomic: {'true' if type_atomic(target) else 'false'},")
        print("    fields: &[")
        for j, c, sub, strategy, mk, lt, keys, atomic in rows:
            lt_s = {None: "ListType::Atomic", "atomic": "ListType::Atomic", "set": "ListType::Set"}.get(lt)
            if lt == "map":
                lt_s = "ListType::Map(&[" + ", ".join(f'"{x}"' for x in keys) + "])"
            sub_s = f"Some(&{rust_ident(*sub)})" if sub else "None"
            if c == "one":
                if not sub:
                    raise SystemExit(f"{target[1]}.{j}: a tagged scalar field has no Shape")
                shape = f"Shape::Struct(&{rust_ident(*sub)})"
            else:
                shape = {"list": f"Shape::List({sub_s})", "map": f"Shape::Map({sub_s})"}[c]
            mk_s = f'Some("{mk}")' if mk else "None"
            print(f'        Field::new("{j}", PatchStrategy::{STRAT[strategy]}, {mk_s}, {lt_s}, {"true" if atomic else "false"}, {shape}),')
        print("    ],")
        print("};")
        print()
    print("/// The root type of each served kind, by (group, kind).")
    print("pub(super) static KINDS: &[(&str, &str, &Type)] = &[")
    for g, k, ident in roots:
        print(f'    ("{g}", "{k}", &{ident}),')
    print("];")


main()
