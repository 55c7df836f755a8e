"""A StatefulSet workflow with lightkube (its sync Client and models).

Usage: lightkube_workflow.py KUBECONFIG

lightkube has no call for the server's version or its API groups; its
discovery is generic resources: classes made for a group/version/kind
(`create_namespaced_resource`), or loaded from the cluster's
CustomResourceDefinitions (`load_in_cluster_generic_resources`).
"""

import logging
import sys

from lightkube import Client, KubeConfig, codecs
from lightkube.generic_resource import (
    create_namespaced_resource,
    get_generic_resource,
    load_in_cluster_generic_resources,
)
from lightkube.models.apps_v1 import StatefulSetSpec
from lightkube.models.autoscaling_v1 import ScaleSpec
from lightkube.models.core_v1 import (
    Container,
    ContainerPort,
    PodSpec,
    PodTemplateSpec,
    ServicePort,
    ServiceSpec,
)
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import ConfigMap, Event, Pod, Service
from lightkube.types import CascadeType, PatchType

import workflow as wf
from workflow import NAME, NAMESPACE, check


class Requests(logging.Handler):
    """The URLs of the requests httpx2 (lightkube's HTTP client) logs."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def emit(self, record):
        if record.args and len(record.args) > 1:
            self.urls.append(str(record.args[1]))


def main():
    client = Client(config=KubeConfig.from_file(sys.argv[1]), namespace=NAMESPACE, field_manager=wf.FIELD_MANAGER)
    steps = wf.Steps("lightkube")

    def discovery():
        GenericSet = create_namespaced_resource("apps", "v1", "StatefulSet", "statefulsets")
        check(get_generic_resource("apps/v1", "StatefulSet") is GenericSet, "the generic StatefulSet class is not registered")
        sets = list(client.list(GenericSet))
        # A CRD of our own, loaded back as a generic resource from the cluster.
        crd = codecs.from_dict({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "lightwidgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "lightwidgets", "singular": "lightwidget", "kind": "LightWidget"},
                "versions": [{"name": "v1", "served": True, "storage": True,
                              "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                  "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}],
            },
        })
        client.create(crd)
        load_in_cluster_generic_resources(client)
        Widget = get_generic_resource("example.com/v1", "LightWidget")
        check(Widget is not None, "the CRD did not load as a generic resource")
        client.create(Widget(metadata=ObjectMeta(name="w"), spec={"size": 3}))
        widgets = [w.spec["size"] for w in client.list(Widget)]
        check(widgets == [3], f"widgets {widgets}")
        return f"generic apps/v1 StatefulSet lists {len(sets)} sets; CRD LightWidget loaded from the cluster, lists sizes {widgets}"

    def create():
        m = wf.service_manifest()
        svc = client.create(
            Service(
                metadata=ObjectMeta(name=NAME, labels=m["metadata"]["labels"]),
                spec=ServiceSpec(clusterIP="None", selector=wf.LABELS, ports=[ServicePort(name="http", port=8080)]),
            )
        )
        sts = client.create(
            StatefulSet(
                metadata=ObjectMeta(name=NAME, labels=wf.LABELS),
                spec=StatefulSetSpec(
                    serviceName=NAME,
                    replicas=2,
                    selector=LabelSelector(matchLabels=wf.LABELS),
                    template=PodTemplateSpec(
                        metadata=ObjectMeta(labels=wf.LABELS),
                        spec=PodSpec(
                            terminationGracePeriodSeconds=1,
                            containers=[
                                Container(
                                    name="c",
                                    image=wf.IMAGE,
                                    command=wf.COMMAND,
                                    ports=[ContainerPort(name="http", containerPort=8080)],
                                )
                            ],
                        ),
                    ),
                ),
            )
        )
        check(svc.spec.clusterIP == "None", f"clusterIP {svc.spec.clusterIP}")
        return f"service clusterIP={svc.spec.clusterIP}, statefulset uid={sts.metadata.uid}"

    def ready():
        seen = {}
        for _op, pod in client.watch(Pod, labels=wf.LABELS, server_timeout=wf.STEP_SECONDS):
            conditions = [(c.type, c.status) for c in (pod.status.conditions or [])] if pod.status else []
            seen[pod.metadata.name] = wf.pod_ready(pod.status and pod.status.phase, conditions)
            if sorted(n for n, r in seen.items() if r) == ["web-0", "web-1"]:
                break
        ready = sorted(n for n, r in seen.items() if r)
        check(ready == ["web-0", "web-1"], f"the watch ended with ready pods {ready}")
        return "ready " + " ".join(ready)

    def patch_strategic():
        def patch(body):
            sts = client.patch(StatefulSet, NAME, body)  # PatchType.STRATEGIC is lightkube's default
            return sts.metadata.labels, sts.metadata.finalizers

        return wf.strategic_patches(patch)

    def patch_merge():
        sts = client.patch(
            StatefulSet, NAME, {"metadata": {"annotations": {"patched-merge": "yes"}}}, patch_type=PatchType.MERGE
        )
        check(sts.metadata.annotations.get("patched-merge") == "yes", f"annotations {sts.metadata.annotations}")
        return f"annotations {sts.metadata.annotations}"

    def patch_json():
        sts = client.patch(
            StatefulSet,
            NAME,
            [
                {"op": "test", "path": "/spec/replicas", "value": 2},
                {"op": "add", "path": "/metadata/labels/patched-json", "value": "yes"},
            ],
            patch_type=PatchType.JSON,
        )
        check(sts.metadata.labels.get("patched-json") == "yes", f"labels {sts.metadata.labels}")
        return f"labels {sts.metadata.labels}"

    def apply():
        sts = client.apply(StatefulSet(metadata=ObjectMeta(name=NAME, labels={"applied": "yes"})), force=True)
        managers = [(f.manager, f.operation) for f in sts.metadata.managedFields or []]
        check(sts.metadata.labels.get("applied") == "yes", f"labels {sts.metadata.labels}")
        check((wf.FIELD_MANAGER, "Apply") in managers, f"managedFields {managers}")
        return f"labels {sts.metadata.labels}, managers {managers}"

    def scale():
        before = client.get(StatefulSet.Scale, NAME)
        check(before.spec.replicas == 2, f"scale spec.replicas {before.spec.replicas}")
        client.patch(StatefulSet.Scale, NAME, {"spec": {"replicas": 3}}, patch_type=PatchType.MERGE)
        after = wf.until(
            "the scale's status to reach 3 replicas",
            lambda: client.get(StatefulSet.Scale, NAME),
            ok=lambda s: s.status.replicas == 3,
        )
        return f"replicas {before.spec.replicas} -> {after.spec.replicas}, selector {after.status.selector}"

    def scale_apply():
        applied = client.apply(
            StatefulSet.Scale(metadata=ObjectMeta(name=NAME, namespace=NAMESPACE), spec=ScaleSpec(replicas=2)),
            NAME,
            force=True,
        )
        sts = client.get(StatefulSet, NAME)
        check(sts.spec.replicas == 2, f"the set's spec.replicas is {sts.spec.replicas}")
        return f"replicas={applied.spec.replicas}"

    def logs():
        lines = list(client.log("web-0", container="c"))
        check(any("hello from web-0" in line for line in lines), f"log {lines}")
        return f"log {lines}"

    def exec_():
        res = client.exec(
            "web-0", container="c", command=wf.EXEC_COMMAND, stdin=wf.EXEC_STDIN, stdout=True, stderr=True, timeout=30
        )
        check("got:ping" in res.stdout, f"stdout {res.stdout!r}")
        check("err:ping" in res.stderr, f"stderr {res.stderr!r}")
        check(res.exit_code == 0, f"exit code {res.exit_code}")
        return f"stdout {res.stdout.strip()!r}, stderr {res.stderr.strip()!r}, exit {res.exit_code}"

    def paginate():
        for i in range(wf.CONFIGMAPS):
            m = wf.configmap_manifest(i)
            client.create(ConfigMap(metadata=ObjectMeta(name=m["metadata"]["name"], labels=m["metadata"]["labels"]), data=m["data"]))
        # The list follows `continue` itself, one page a request, lazily:
        # the items between two logged requests are one page.
        requests = Requests()
        logger = logging.getLogger("httpx2")
        logger.addHandler(requests)
        logger.setLevel(logging.INFO)
        pages, names = [], []
        try:
            for cm in client.list(ConfigMap, labels={"set": "pages"}, chunk_size=wf.PAGE):
                while len(pages) < len(requests.urls):
                    pages.append(0)
                pages[-1] += 1
                names.append(cm.metadata.name)
        finally:
            logger.removeHandler(requests)
        check(len(requests.urls) == len(pages), f"requests {requests.urls}")
        check(names == sorted(set(names)) and len(names) == wf.CONFIGMAPS, f"names {names}")
        return f"pages={pages}"

    def reasons(kind, fields):
        return sorted({e.reason for e in client.list(kind, fields=fields)})

    def events_core():
        found = wf.until(
            "a core/v1 event of the set",
            lambda: reasons(Event, {"involvedObject.name": NAME, "involvedObject.kind": "StatefulSet"}),
            ok=lambda found: "SuccessfulCreate" in found,
        )
        return f"reasons {found}"

    def events_v1():
        # lightkube's events.k8s.io/v1 model cannot read an Event recorded
        # through core/v1, as the StatefulSet controller records them (here
        # as upstream): its eventTime is null and the model requires a
        # time. A generic resource reads them as they are.
        EventV1 = create_namespaced_resource("events.k8s.io", "v1", "Event", "events")
        found = wf.until(
            "an events.k8s.io/v1 event of the set",
            lambda: reasons(EventV1, {"regarding.name": NAME, "regarding.kind": "StatefulSet"}),
            ok=lambda found: "SuccessfulCreate" in found,
        )
        return f"reasons {found}"

    def delete():
        client.delete(StatefulSet, NAME, cascade=CascadeType.FOREGROUND)

        def gone():
            pods = list(client.list(Pod, labels=wf.LABELS))
            sets = list(client.list(StatefulSet, fields={"metadata.name": NAME}))
            return not pods and not sets

        wf.until("the set and its pods to be gone", gone)
        client.delete(Service, NAME)
        return "set deleted (Foreground), no pods left"

    for name, fn in [
        ("discovery", discovery),
        ("create", create),
        ("ready", ready),
        ("patch-strategic", patch_strategic),
        ("patch-merge", patch_merge),
        ("patch-json", patch_json),
        ("apply", apply),
        ("scale", scale),
        ("scale-apply", scale_apply),
        ("logs", logs),
        ("exec", exec_),
        ("paginate", paginate),
        ("events-core", events_core),
        ("events-v1", events_v1),
        ("delete", delete),
    ]:
        steps.run(name, fn)
    steps.finish()


if __name__ == "__main__":
    main()
