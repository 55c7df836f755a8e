"""A StatefulSet workflow with the official Python client (`kubernetes`).

Usage: official.py KUBECONFIG
"""

import os
import sys
import tempfile

from kubernetes import client, config, dynamic, watch
from kubernetes.stream import stream

import workflow as wf
from workflow import NAME, NAMESPACE, SELECTOR, check


def main():
    # The dynamic client caches discovery in a file; keep it in a
    # directory that goes with the script.
    with tempfile.TemporaryDirectory(prefix="ordinal-clients-") as cache:
        workflow(os.path.join(cache, "discovery.json"))


def workflow(discovery_cache):
    config.load_kube_config(config_file=sys.argv[1])
    api = client.ApiClient()
    core = client.CoreV1Api(api)
    apps = client.AppsV1Api(api)
    steps = wf.Steps("kubernetes (official)")
    # The typed API sends a dict as a strategic merge patch and a list as a
    # JSON patch; JSON merge patches and server-side apply go through the
    # client's dynamic API, which takes the content type.
    dyn = None
    statefulsets = None

    def dynamic_statefulsets():
        nonlocal dyn, statefulsets
        if statefulsets is None:
            dyn = dynamic.DynamicClient(api, cache_file=discovery_cache)
            statefulsets = dyn.resources.get(api_version="apps/v1", kind="StatefulSet")
        return dyn, statefulsets

    def discovery():
        version = client.VersionApi(api).get_code()
        core_versions = client.CoreApi(api).get_api_versions().versions
        groups = [g.name for g in client.ApisApi(api).get_api_versions().groups]
        core_resources = [r.name for r in core.get_api_resources().resources]
        apps_resources = [r.name for r in apps.get_api_resources().resources]
        check("v1" in core_versions, f"core versions {core_versions}")
        check("apps" in groups and "events.k8s.io" in groups, f"groups {groups}")
        check("pods/exec" in core_resources, f"core resources {core_resources}")
        check("statefulsets/scale" in apps_resources, f"apps resources {apps_resources}")
        return (
            f"server {version.git_version}, {len(groups)} groups, "
            f"{len(core_resources)} core and {len(apps_resources)} apps resources"
        )

    def create():
        m = wf.service_manifest()
        service = client.V1Service(
            metadata=client.V1ObjectMeta(name=NAME, labels=m["metadata"]["labels"]),
            spec=client.V1ServiceSpec(
                cluster_ip="None",
                selector=m["spec"]["selector"],
                ports=[client.V1ServicePort(name="http", port=8080)],
            ),
        )
        svc = core.create_namespaced_service(NAMESPACE, service)
        m = wf.statefulset_manifest()
        container = client.V1Container(
            name="c",
            image=wf.IMAGE,
            command=wf.COMMAND,
            ports=[client.V1ContainerPort(name="http", container_port=8080)],
        )
        sts = client.V1StatefulSet(
            metadata=client.V1ObjectMeta(name=NAME, labels=m["metadata"]["labels"]),
            spec=client.V1StatefulSetSpec(
                service_name=NAME,
                replicas=2,
                selector=client.V1LabelSelector(match_labels=wf.LABELS),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=wf.LABELS),
                    spec=client.V1PodSpec(termination_grace_period_seconds=1, containers=[container]),
                ),
            ),
        )
        created = apps.create_namespaced_stateful_set(NAMESPACE, sts)
        check(svc.spec.cluster_ip == "None", f"clusterIP {svc.spec.cluster_ip}")
        return f"service clusterIP={svc.spec.cluster_ip}, statefulset uid={created.metadata.uid}"

    def ready():
        seen = {}
        w = watch.Watch()
        for event in w.stream(
            core.list_namespaced_pod,
            NAMESPACE,
            label_selector=SELECTOR,
            timeout_seconds=wf.STEP_SECONDS,
        ):
            pod = event["object"]
            conditions = [(c.type, c.status) for c in (pod.status.conditions or [])]
            seen[pod.metadata.name] = wf.pod_ready(pod.status.phase, conditions)
            if sorted(n for n, r in seen.items() if r) == ["web-0", "web-1"]:
                w.stop()
        ready = sorted(n for n, r in seen.items() if r)
        check(ready == ["web-0", "web-1"], f"the watch ended with ready pods {ready}")
        return "ready " + " ".join(ready)

    def patch_strategic():
        def patch(body):
            sts = apps.patch_namespaced_stateful_set(NAME, NAMESPACE, body)
            return sts.metadata.labels, sts.metadata.finalizers

        return wf.strategic_patches(patch)

    def patch_merge():
        d, sets = dynamic_statefulsets()
        sts = d.patch(
            sets,
            {"metadata": {"annotations": {"patched-merge": "yes"}}},
            name=NAME,
            namespace=NAMESPACE,
            content_type="application/merge-patch+json",
        )
        check(sts.metadata.annotations.get("patched-merge") == "yes", f"annotations {sts.metadata.annotations}")
        return f"annotations {sts.metadata.annotations}"

    def patch_json():
        sts = apps.patch_namespaced_stateful_set(
            NAME,
            NAMESPACE,
            [
                {"op": "test", "path": "/spec/replicas", "value": 2},
                {"op": "add", "path": "/metadata/labels/patched-json", "value": "yes"},
            ],
        )
        check(sts.metadata.labels.get("patched-json") == "yes", f"labels {sts.metadata.labels}")
        return f"labels {sts.metadata.labels}"

    def apply():
        body = {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": NAME, "labels": {"applied": "yes"}},
        }
        d, sets = dynamic_statefulsets()
        sts = d.server_side_apply(
            sets, body, name=NAME, namespace=NAMESPACE, field_manager=wf.FIELD_MANAGER, force_conflicts=True
        )
        managers = [(f.manager, f.operation) for f in sts.metadata.managedFields or []]
        check(sts.metadata.labels.get("applied") == "yes", f"labels {sts.metadata.labels}")
        check((wf.FIELD_MANAGER, "Apply") in managers, f"managedFields {managers}")
        return f"labels {sts.metadata.labels}, managers {managers}"

    def scale():
        before = apps.read_namespaced_stateful_set_scale(NAME, NAMESPACE)
        check(before.spec.replicas == 2, f"scale spec.replicas {before.spec.replicas}")
        apps.patch_namespaced_stateful_set_scale(NAME, NAMESPACE, {"spec": {"replicas": 3}})
        after = wf.until(
            "the scale's status to reach 3 replicas",
            lambda: apps.read_namespaced_stateful_set_scale(NAME, NAMESPACE),
            ok=lambda s: s.status.replicas == 3,
        )
        return f"replicas {before.spec.replicas} -> {after.spec.replicas}, selector {after.status.selector}"

    def scale_apply():
        body = {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {"name": NAME, "namespace": NAMESPACE},
            "spec": {"replicas": 2},
        }
        d, sets = dynamic_statefulsets()
        applied = d.server_side_apply(
            sets.subresources["scale"],
            body,
            name=NAME,
            namespace=NAMESPACE,
            field_manager=wf.FIELD_MANAGER,
            force_conflicts=True,
        )
        sts = apps.read_namespaced_stateful_set(NAME, NAMESPACE)
        check(sts.spec.replicas == 2, f"the set's spec.replicas is {sts.spec.replicas}")
        return f"replicas={applied.spec.replicas}"

    def logs():
        text = wf.until(
            "web-0's log",
            lambda: core.read_namespaced_pod_log("web-0", NAMESPACE, container="c"),
        )
        check("hello from web-0" in text, f"log {text!r}")
        return f"log {text.strip()!r}"

    def exec_():
        resp = stream(
            core.connect_get_namespaced_pod_exec,
            "web-0",
            NAMESPACE,
            container="c",
            command=wf.EXEC_COMMAND,
            stdin=True,
            stdout=True,
            stderr=True,
            tty=False,
            _preload_content=False,
        )
        out = err = ""
        try:
            resp.write_stdin(wf.EXEC_STDIN)
            while resp.is_open():
                resp.update(timeout=1)
                if resp.peek_stdout():
                    out += resp.read_stdout()
                if resp.peek_stderr():
                    err += resp.read_stderr()
            code = resp.returncode
        finally:
            resp.close()
        check("got:ping" in out, f"stdout {out!r}")
        check("err:ping" in err, f"stderr {err!r}")
        check(code == 0, f"exit code {code}")
        return f"stdout {out.strip()!r}, stderr {err.strip()!r}, exit {code}"

    def paginate():
        for i in range(wf.CONFIGMAPS):
            m = wf.configmap_manifest(i)
            core.create_namespaced_config_map(
                NAMESPACE,
                client.V1ConfigMap(
                    metadata=client.V1ObjectMeta(name=m["metadata"]["name"], labels=m["metadata"]["labels"]),
                    data=m["data"],
                ),
            )
        pages, names, token = [], [], None
        while len(pages) <= wf.CONFIGMAPS:
            page = core.list_namespaced_config_map(
                NAMESPACE, label_selector="set=pages", limit=wf.PAGE, _continue=token
            )
            pages.append(len(page.items))
            names += [c.metadata.name for c in page.items]
            token = page.metadata._continue
            if not token:
                break
        check(names == sorted(set(names)) and len(names) == wf.CONFIGMAPS, f"names {names}")
        return f"pages={pages}"

    def events_core():
        def reasons():
            events = core.list_namespaced_event(
                NAMESPACE, field_selector=f"involvedObject.name={NAME},involvedObject.kind=StatefulSet"
            ).items
            return sorted({e.reason for e in events})

        found = wf.until("a core/v1 event of the set", reasons, ok=lambda found: "SuccessfulCreate" in found)
        return f"reasons {found}"

    def events_v1():
        # The typed EventsV1Api cannot read an Event recorded through
        # core/v1, as the StatefulSet controller records them (here as
        # upstream): its eventTime is null, which the generated model
        # refuses (kubernetes-client/python#1616). The dynamic client reads
        # them as they are.
        d, _ = dynamic_statefulsets()
        events = d.resources.get(api_version="events.k8s.io/v1", kind="Event")

        def reasons():
            found = d.get(events, namespace=NAMESPACE, field_selector=f"regarding.name={NAME},regarding.kind=StatefulSet")
            return sorted({e.reason for e in found.items})

        found = wf.until(
            "an events.k8s.io/v1 event of the set", reasons, ok=lambda found: "SuccessfulCreate" in found
        )
        return f"reasons {found}"

    def delete():
        apps.delete_namespaced_stateful_set(NAME, NAMESPACE, propagation_policy="Foreground")

        def gone():
            pods = core.list_namespaced_pod(NAMESPACE, label_selector=SELECTOR).items
            sets = apps.list_namespaced_stateful_set(NAMESPACE, field_selector=f"metadata.name={NAME}").items
            return not pods and not sets

        wf.until("the set and its pods to be gone", gone)
        core.delete_namespaced_service(NAME, NAMESPACE)
        return "set deleted (Foreground), no pods left"

    steps.run("discovery", discovery)
    steps.run("create", create)
    steps.run("ready", ready)
    steps.run("patch-strategic", patch_strategic)
    steps.run("patch-merge", patch_merge)
    steps.run("patch-json", patch_json)
    steps.run("apply", apply)
    steps.run("scale", scale)
    steps.run("scale-apply", scale_apply)
    steps.run("logs", logs)
    steps.run("exec", exec_)
    steps.run("paginate", paginate)
    steps.run("events-core", events_core)
    steps.run("events-v1", events_v1)
    steps.run("delete", delete)
    steps.finish()


if __name__ == "__main__":
    main()
