"""A StatefulSet workflow with kr8s (its asyncio API).

Usage: kr8s_workflow.py KUBECONFIG

kr8s's object methods cover merge and JSON patches (`patch`, `patch(...,
type="json")`), subresources (`patch(..., subresource="scale")`), logs,
exec and delete; what they do not cover — strategic merge patches,
server-side apply, reading `/scale`, a list with a chosen page size and an
exec that writes stdin over v5.channel.k8s.io (kr8s's own `exec` only
offers v4, over which it refuses stdin) — goes through kr8s's own
`call_api` and `open_websocket`.
"""

import asyncio
import json
import sys

import kr8s.asyncio
from kr8s.asyncio.objects import ConfigMap, Event, Pod, Service, StatefulSet, new_class

import workflow as wf
from workflow import NAME, NAMESPACE, check

EventV1 = new_class("Event.events.k8s.io/v1", namespaced=True)
STDIN, STDOUT, STDERR, ERROR, CLOSE = 0, 1, 2, 3, 255


async def main():
    api = await kr8s.asyncio.api(kubeconfig=sys.argv[1])
    steps = wf.Steps("kr8s")

    async def statefulset():
        return await StatefulSet.get(NAME, namespace=NAMESPACE, api=api)

    async def patch_raw(url, body, content_type, params=None):
        async with api.call_api(
            "PATCH",
            version="apps/v1",
            namespace=NAMESPACE,
            url=url,
            content=json.dumps(body),
            headers={"Content-Type": content_type},
            params=params,
        ) as resp:
            return resp.json()

    async def discovery():
        version = await api.version()
        resources = await api.api_resources()
        versions = [v async for v in api.api_versions()]
        names = {(r["version"], r["name"]) for r in resources}
        check(("apps/v1", "statefulsets") in names, "no apps/v1 statefulsets in api_resources")
        check(("v1", "pods") in names, "no v1 pods in api_resources")
        check("events.k8s.io/v1" in versions, f"api versions {versions}")
        return f"server {version['gitVersion']}, {len(resources)} resources, {len(versions)} group versions"

    async def create():
        svc = await Service(wf.service_manifest(), api=api)
        await svc.create()
        sts = await StatefulSet(wf.statefulset_manifest(), api=api)
        await sts.create()
        check(svc.spec.clusterIP == "None", f"clusterIP {svc.spec.clusterIP}")
        return f"service clusterIP={svc.spec.clusterIP}, statefulset uid={sts.metadata.uid}"

    async def ready():
        seen = {}
        async for _event, pod in api.watch("pods", namespace=NAMESPACE, label_selector=wf.LABELS):
            conditions = [(c.type, c.status) for c in pod.status.get("conditions", [])]
            seen[pod.name] = wf.pod_ready(pod.status.get("phase"), conditions)
            if sorted(n for n, r in seen.items() if r) == ["web-0", "web-1"]:
                break
        ready = sorted(n for n, r in seen.items() if r)
        check(ready == ["web-0", "web-1"], f"the watch ended with ready pods {ready}")
        return "ready " + " ".join(ready)

    async def patch_strategic():
        results = []
        for body, _ in wf.STRATEGIC_PATCHES:
            sts = await patch_raw(f"statefulsets/{NAME}", body, "application/strategic-merge-patch+json")
            results.append((sts["metadata"].get("labels"), sts["metadata"].get("finalizers")))
        return wf.strategic_patches(lambda body: results.pop(0))

    async def patch_merge():
        sts = await statefulset()
        await sts.patch({"metadata": {"annotations": {"patched-merge": "yes"}}})
        check(sts.annotations.get("patched-merge") == "yes", f"annotations {sts.annotations}")
        return f"annotations {dict(sts.annotations)}"

    async def patch_json():
        sts = await statefulset()
        await sts.patch(
            [
                {"op": "test", "path": "/spec/replicas", "value": 2},
                {"op": "add", "path": "/metadata/labels/patched-json", "value": "yes"},
            ],
            type="json",
        )
        check(sts.labels.get("patched-json") == "yes", f"labels {sts.labels}")
        return f"labels {dict(sts.labels)}"

    async def apply():
        body = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": NAME, "labels": {"applied": "yes"}}}
        sts = await patch_raw(
            f"statefulsets/{NAME}",
            body,
            "application/apply-patch+yaml",
            params={"fieldManager": wf.FIELD_MANAGER, "force": "true"},
        )
        managers = [(f["manager"], f["operation"]) for f in sts["metadata"].get("managedFields", [])]
        check(sts["metadata"]["labels"].get("applied") == "yes", f"labels {sts['metadata']['labels']}")
        check((wf.FIELD_MANAGER, "Apply") in managers, f"managedFields {managers}")
        return f"labels {sts['metadata']['labels']}, managers {managers}"

    async def read_scale():
        async with api.call_api("GET", version="apps/v1", namespace=NAMESPACE, url=f"statefulsets/{NAME}/scale") as r:
            return r.json()

    async def scale():
        before = await read_scale()
        check(before["spec"]["replicas"] == 2, f"scale {before}")
        sts = await statefulset()
        await sts.patch({"spec": {"replicas": 3}}, subresource="scale")
        after = await wf.until_async(
            "the scale's status to reach 3 replicas",
            lambda: _scale_with_status(3),
        )
        return f"replicas {before['spec']['replicas']} -> {after['spec']['replicas']}, selector {after['status'].get('selector')}"

    async def _scale_with_status(replicas):
        s = await read_scale()
        return s if s.get("status", {}).get("replicas") == replicas else None

    async def scale_apply():
        body = {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {"name": NAME, "namespace": NAMESPACE},
            "spec": {"replicas": 2},
        }
        applied = await patch_raw(
            f"statefulsets/{NAME}/scale",
            body,
            "application/apply-patch+yaml",
            params={"fieldManager": wf.FIELD_MANAGER, "force": "true"},
        )
        sts = await statefulset()
        check(sts.replicas == 2, f"the set's spec.replicas is {sts.replicas}")
        return f"replicas={applied['spec']['replicas']}"

    async def logs():
        pod = await Pod.get("web-0", namespace=NAMESPACE, api=api)
        lines = [line async for line in pod.logs(container="c", timeout=30)]
        check(any("hello from web-0" in line for line in lines), f"log {lines}")
        return f"log {lines}"

    async def exec_():
        pod = await Pod.get("web-0", namespace=NAMESPACE, api=api)
        # kr8s's exec, without stdin.
        plain = await pod.exec(["sh", "-c", "echo plain:$(hostname)"], container="c", timeout=30)
        check(plain.stdout.decode().strip() == "plain:web-0", f"exec stdout {plain.stdout!r}")
        # stdin written, stdout read back, over v5.channel.k8s.io.
        params = {"command": wf.EXEC_COMMAND, "container": "c", "stdin": "true", "stdout": "true", "stderr": "true"}
        out = err = b""
        status = None
        async with api.open_websocket(
            version="v1",
            namespace=NAMESPACE,
            url="pods/web-0/exec",
            params=params,
            subprotocols=["v5.channel.k8s.io", "v4.channel.k8s.io"],
        ) as ws:
            check(ws.subprotocol == "v5.channel.k8s.io", f"subprotocol {ws.subprotocol}")
            await ws.send_bytes(bytes([STDIN]) + wf.EXEC_STDIN.encode())
            await ws.send_bytes(bytes([CLOSE, STDIN]))
            while status is None:
                message = await ws.receive_bytes(timeout=30)
                channel, data = message[0], message[1:]
                if channel == STDOUT:
                    out += data
                elif channel == STDERR:
                    err += data
                elif channel == ERROR and data:
                    status = json.loads(data)
        check(b"got:ping" in out, f"stdout {out!r}")
        check(b"err:ping" in err, f"stderr {err!r}")
        check(status.get("status") == "Success", f"status {status}")
        return f"{plain.stdout.decode().strip()!r}; stdout {out.decode().strip()!r}, stderr {err.decode().strip()!r}, {status['status']}"

    async def paginate():
        await api.create([ConfigMap(wf.configmap_manifest(i), api=api) for i in range(wf.CONFIGMAPS)])
        everything = [cm.name async for cm in api.get("configmaps", namespace=NAMESPACE, label_selector={"set": "pages"})]
        check(len(everything) == wf.CONFIGMAPS, f"kr8s get found {len(everything)}")
        pages, names, params = [], [], {"labelSelector": "set=pages", "limit": wf.PAGE}
        while len(pages) <= wf.CONFIGMAPS:
            async with api.call_api("GET", version="v1", namespace=NAMESPACE, url="configmaps", params=params) as r:
                page = r.json()
            pages.append(len(page["items"]))
            names += [c["metadata"]["name"] for c in page["items"]]
            token = page["metadata"].get("continue")
            if not token:
                break
            params["continue"] = token
        check(names == sorted(set(names)) and len(names) == wf.CONFIGMAPS, f"names {names}")
        return f"pages={pages}"

    async def reasons(kind, selector):
        events = [e async for e in api.get(kind, namespace=NAMESPACE, field_selector=selector)]
        return sorted({e.raw.get("reason") for e in events})

    async def events_core():
        found = await wf.until_async(
            "a core/v1 event of the set",
            lambda: reasons(Event, {"involvedObject.name": NAME, "involvedObject.kind": "StatefulSet"}),
            ok=lambda found: "SuccessfulCreate" in found,
        )
        return f"reasons {found}"

    async def events_v1():
        found = await wf.until_async(
            "an events.k8s.io/v1 event of the set",
            lambda: reasons(EventV1, {"regarding.name": NAME, "regarding.kind": "StatefulSet"}),
            ok=lambda found: "SuccessfulCreate" in found,
        )
        return f"reasons {found}"

    async def delete():
        sts = await statefulset()
        await sts.delete(propagation_policy="Background")

        async def gone():
            pods = [p async for p in api.get("pods", namespace=NAMESPACE, label_selector=wf.LABELS)]
            return not pods and not await sts.exists()

        await wf.until_async("the set and its pods to be gone", gone)
        svc = await Service.get(NAME, namespace=NAMESPACE, api=api)
        await svc.delete()
        return "set deleted (Background), no pods left"

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
        await steps.run_async(name, fn)
    steps.finish()


if __name__ == "__main__":
    asyncio.run(main())
