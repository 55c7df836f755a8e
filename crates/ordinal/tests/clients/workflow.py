"""What the client workflows share: the objects they make, the step runner
and bounded waits.

Every step prints one line, ``ok STEP: what it saw`` or ``FAIL STEP`` and
the exception, and the workflow goes on to the next step, so one run shows
every step that fails; ``finish`` then exits non-zero when any did. Every
step runs under a deadline, so nothing waits forever.
"""

import asyncio
import contextlib
import signal
import sys
import time
import traceback

NAMESPACE = "default"
NAME = "web"
LABELS = {"app": NAME}
SELECTOR = "app=" + NAME
IMAGE = "busybox:1.36"
FIELD_MANAGER = "ordinal-clients-test"
# The longest one step may take (pods start, the set scales, pods go).
STEP_SECONDS = 90
CONFIGMAPS = 25
PAGE = 10

# The container: says hello on stdout (the logs step reads it), then serves
# HTTP with busybox httpd until it is stopped.
COMMAND = ["sh", "-c", "echo hello from $(hostname); exec httpd -f -p 8080 -h /"]
# The exec step: one line read from stdin, echoed on stdout and stderr.
EXEC_COMMAND = ["sh", "-c", "read line; echo got:$line; echo err:$line >&2"]
EXEC_STDIN = "ping\n"


def service_manifest():
    """The headless Service the set's pods are named through."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "spec": {
            "clusterIP": "None",
            "selector": dict(LABELS),
            "ports": [{"name": "http", "port": 8080}],
        },
    }


def statefulset_manifest():
    """A two-replica StatefulSet of busybox httpd."""
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "spec": {
            "serviceName": NAME,
            "replicas": 2,
            "selector": {"matchLabels": dict(LABELS)},
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {
                            "name": "c",
                            "image": IMAGE,
                            "command": list(COMMAND),
                            "ports": [{"name": "http", "containerPort": 8080}],
                        }
                    ],
                },
            },
        },
    }


def configmap_manifest(i):
    """One of the ConfigMaps the pagination step lists."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"page-{i:02}", "namespace": NAMESPACE, "labels": {"set": "pages"}},
        "data": {"i": str(i)},
    }


# Strategic merge patches and the finalizers each leaves on the set: a
# finalizer list merges (a JSON merge patch would replace it) and
# `$deleteFromPrimitiveList` takes items out.
STRATEGIC_PATCHES = [
    (
        {"metadata": {"labels": {"patched-strategic": "yes"}, "finalizers": ["ordinal.test/a"]}},
        ["ordinal.test/a"],
    ),
    ({"metadata": {"finalizers": ["ordinal.test/b"]}}, ["ordinal.test/a", "ordinal.test/b"]),
    ({"metadata": {"$deleteFromPrimitiveList/finalizers": ["ordinal.test/a", "ordinal.test/b"]}}, []),
]


def strategic_patches(patch):
    """Sends STRATEGIC_PATCHES with `patch(body)`, which returns the set's
    (labels, finalizers) after it, and checks each result."""
    seen = []
    for body, finalizers in STRATEGIC_PATCHES:
        labels, got = patch(body)
        got = sorted(got or [])
        check(got == finalizers, f"finalizers {got} after {body}, not {finalizers}")
        check((labels or {}).get("patched-strategic") == "yes", f"labels {labels}")
        seen.append(got)
    return f"labels {dict(labels)}, finalizers {seen}"


def pod_ready(phase, conditions):
    """Running with a Ready condition that is True; `conditions` are
    (type, status) pairs."""
    return phase == "Running" and any(t == "Ready" and s == "True" for t, s in conditions)


def check(cond, message):
    """Fails the step with `message` unless `cond`."""
    if not cond:
        raise AssertionError(message)


class StepTimeout(Exception):
    """A step ran past its deadline."""


@contextlib.contextmanager
def deadline(seconds, what):
    """Raises StepTimeout in the main thread after `seconds` (SIGALRM
    interrupts blocking reads, watches and WebSocket receives)."""

    def expired(signum, frame):
        raise StepTimeout(f"{what}: no result after {seconds}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def until(what, fn, ok=bool, timeout=STEP_SECONDS, interval=0.25):
    """Polls `fn` until `ok` holds for what it returns, which it returns."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = fn()
        if ok(last):
            return last
        time.sleep(interval)
    raise StepTimeout(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


async def until_async(what, fn, ok=bool, timeout=STEP_SECONDS, interval=0.25):
    """`until` for a coroutine function."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = await fn()
        if ok(last):
            return last
        await asyncio.sleep(interval)
    raise StepTimeout(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Steps:
    """Runs named steps in order, reporting each, and remembers failures."""

    def __init__(self, client_name):
        self.failed = []
        print(f"client: {client_name}", flush=True)

    def _report(self, name, started, detail=None, error=None):
        took = time.monotonic() - started
        if error is None:
            print(f"ok {name}: {detail} ({took:.1f}s)", flush=True)
        else:
            self.failed.append(name)
            print(f"FAIL {name} ({took:.1f}s)", flush=True)
            traceback.print_exception(error, file=sys.stdout)
            sys.stdout.flush()

    def run(self, name, fn):
        """Runs `fn()` (which returns what it saw) under the step deadline."""
        started = time.monotonic()
        try:
            with deadline(STEP_SECONDS + 30, name):
                detail = fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported
            self._report(name, started, error=e)
        else:
            self._report(name, started, detail=detail)

    async def run_async(self, name, fn):
        """Awaits `fn()` (which returns what it saw) under the step deadline."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(STEP_SECONDS + 30):
                detail = await fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported
            self._report(name, started, error=e)
        else:
            self._report(name, started, detail=detail)

    def finish(self):
        """Exits non-zero naming the failed steps, if any."""
        if self.failed:
            print("failed steps: " + " ".join(self.failed), flush=True)
            sys.exit(1)
        print("all steps passed", flush=True)
