"""Offline checks against the API server, field rule by field rule.

Each case changes one field of a valid PodPattern. The API server is the oracle: a case
is "refused" when a server-side dry run refuses the PodPattern or any object it renders
(the Pod, or the workload object), and `podpatterns validate`'s checks must say the same,
in both directions. Where offline refuses and so cannot render, the case says where its
change lands in the rendered object, and the base rendering with that change is sent.

Rules only the project checks (it refuses what Kubernetes would accept) are not here;
docs/api.md lists them under "What is checked where".
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from podpatterns.api.validation import MAX_OBJECT_BYTES, FieldError, parse
from podpatterns.presets import render_pattern
from podpatterns.render import pod_name, render_pod
from podpatterns.render.workloads import render_workload
from tests.support.kube import Cluster
from tests.unit.golden import problems

IMAGE = "registry.k8s.io/pause:3.10"
SERVER_VERSION = (1, 37)

# Sentinels for `Case.value`: remove the field / append to the list at the path.
DELETE = object()


@dataclass(frozen=True)
class Append:
    item: Any


@dataclass(frozen=True)
class Case:
    id: str
    path: str
    value: Any
    # Where the same change lands in the rendered object: "pod.X" is relative to the Pod
    # spec (of the Pod or of the workload's template), anything else to the object.
    # None when the change has no counterpart there (an unknown field of the PodPattern).
    rendered: str | None = None
    rendered_value: Any = field(default=None)
    kind: str = "Pod"
    # A rule of the project's own: Kubernetes accepts the change, offline refuses it
    # (docs/api.md lists these). The test checks both halves of that claim.
    project: bool = False
    # The rule is also a CEL rule (or a schema keyword): the PodPattern itself must be
    # refused by the API server, not only what it renders.
    cel: bool = False

    def __str__(self) -> str:
        return self.id


def _case(id: str, path: str, value: Any, rendered: str | None = "", **extra: Any) -> Case:
    if rendered == "":
        rendered = _pod_path(path)
    return Case(id, path, value, rendered, **extra)


def _pod_path(path: str) -> str | None:
    for prefix, target in (
        ("spec.main.", "pod.containers[0]."),
        ("spec.pod.securityContext", "pod.securityContext"),
        ("spec.pod.", "pod."),
        ("spec.initContainers", "pod.initContainers"),
    ):
        if path.startswith(prefix):
            return target + path[len(prefix):]
    return None


def _cron(id: str, field_name: str, value: Any) -> Case:
    target = {"schedule": "spec.schedule", "timeZone": "spec.timeZone"}[field_name]
    return Case(id, f"spec.workload.cron.{field_name}", value, target, kind="CronJob")


def _mount(id: str, **mount: Any) -> Case:
    return _case(id, "spec.main.volumeMounts", [{"name": "data", "mountPath": "/extra", **mount}],
                 rendered="pod.containers[0].volumeMounts",
                 rendered_value=Append({"name": "data", "mountPath": "/extra", **mount}))


def _env(id: str, name: str) -> Case:
    return _case(id, "spec.main.env", [{"name": name, "value": "x"}])


def _resources(id: str, **resources: Any) -> Case:
    return _case(id, "spec.main.resources", resources)


def _toleration(id: str, **toleration: Any) -> Case:
    return _case(id, "spec.pod.tolerations", [toleration])


def _init(id: str, **fields: Any) -> Case:
    entry = {"name": "init", "image": IMAGE, **fields}
    return _case(id, "spec.initContainers", [entry], rendered="pod.initContainers",
                 rendered_value=[{**entry, "command": ["true"]}])


PROBE = {"exec": {"command": ["true"]}}

CASES = [
    # whole-string matches
    _case("name-newline", "metadata.name", "web\n", None),
    _case("port-name-newline", "spec.main.ports[0].name", "http\n"),
    # env names and images
    _env("env-equals", "A=B"),
    _env("env-non-ascii", "Ä"),
    _env("env-tab", "A\tB"),
    _env("env-space", "A B"),
    _env("env-leading-digit", "1A"),
    _env("env-dot-dash", "a.b-c"),
    _env("env-empty", ""),
    _case("envfrom-prefix-equals", "spec.main.envFrom",
          [{"prefix": "A=", "configMapRef": {"name": "c"}}]),
    _case("image-leading-space", "spec.main.image", " nginx"),
    _case("image-trailing-newline", "spec.main.image", "nginx\n"),
    _case("image-inner-space", "spec.main.image", "ng inx"),
    # quantities
    _resources("cpu-negative", requests={"cpu": "-1"}),
    _resources("memory-request-above-limit", requests={"memory": "2Gi"},
               limits={"memory": "1Gi"}),
    _resources("cpu-request-equal-limit", requests={"cpu": "1"}, limits={"cpu": "1000m"}),
    _resources("cpu-request-below-limit", requests={"cpu": "500m"}, limits={"cpu": "1"}),
    _resources("gpu-fraction", limits={"nvidia.com/gpu": "500m"}),
    _resources("gpu-whole", limits={"nvidia.com/gpu": 1}),
    _resources("gpu-request-not-limit", requests={"nvidia.com/gpu": 1},
               limits={"nvidia.com/gpu": 2}),
    _resources("gpu-request-without-limit", requests={"nvidia.com/gpu": 1}),
    _resources("resource-without-domain", limits={"gpu": 1}),
    _resources("hugepages-alone", limits={"hugepages-2Mi": "2Mi"}),
    _resources("hugepages-not-page-multiple", limits={"hugepages-2Mi": "3Mi", "memory": "1Gi"}),
    _resources("hugepages-ok", limits={"hugepages-2Mi": "4Mi", "memory": "1Gi"}),
    _resources("quantity-fractional-exponent", limits={"cpu": "1e1.5"}),
    _resources("quantity-trailing-newline", limits={"cpu": "1\n"}),
    _resources("quantity-float", limits={"cpu": 0.5}),
    _resources("quantity-exponent", limits={"memory": "1e9"}),
    # ports
    _case("port-name-digits", "spec.main.ports[0].name", "8080"),
    _case("port-name-double-hyphen", "spec.main.ports[0].name", "a--b"),
    _case("port-name-16-chars", "spec.main.ports[0].name", "abcdefghijklmnop"),
    _case("port-name-ok", "spec.main.ports[0].name", "h2c-1"),
    _case("port-names-duplicate", "spec.main.ports",
          [{"name": "a", "containerPort": 80}, {"name": "a", "containerPort": 81}]),
    # volume mounts
    _mount("subpath-absolute", subPath="/etc"),
    _mount("subpath-climbs", subPath="a/../.."),
    _mount("subpath-dots-in-name", subPath="a/..b"),
    _mount("subpathexpr-absolute", subPathExpr="/x"),
    _mount("subpathexpr-climbs", subPathExpr="$(HOME)/.."),
    _mount("subpath-and-expr", subPath="a", subPathExpr="b"),
    _mount("propagation-bidirectional", mountPropagation="Bidirectional"),
    _mount("propagation-host-to-container", mountPropagation="HostToContainer"),
    _mount("rro-enabled-not-read-only", recursiveReadOnly="Enabled"),
    _mount("rro-if-possible-not-read-only", recursiveReadOnly="IfPossible"),
    _mount("rro-enabled-read-only", recursiveReadOnly="Enabled", readOnly=True),
    _mount("rro-with-propagation", recursiveReadOnly="Enabled", readOnly=True,
           mountPropagation="HostToContainer"),
    _case("mountpath-double-slash", "spec.main.volumeMounts",
          [{"name": "data", "mountPath": "//data"}], "pod.containers[0].volumeMounts",
          rendered_value=Append({"name": "data", "mountPath": "//data"}), project=True),
    _case("mountpath-dot", "spec.main.volumeMounts",
          [{"name": "data", "mountPath": "/data/./"}], "pod.containers[0].volumeMounts",
          rendered_value=Append({"name": "data", "mountPath": "/data/./"}), project=True),
    _case("mountpath-trailing-slash", "spec.main.volumeMounts",
          [{"name": "data", "mountPath": "/data/"}], "pod.containers[0].volumeMounts",
          rendered_value=Append({"name": "data", "mountPath": "/data/"}), project=True),
    _case("mountpath-same", "spec.main.volumeMounts",
          [{"name": "data", "mountPath": "/data"}], "pod.containers[0].volumeMounts",
          rendered_value=Append({"name": "data", "mountPath": "/data"})),
    _case("item-path-climbs", "spec.volumes[0]",
          {"name": "data", "mountPath": "/data",
           "configMap": {"name": "c", "items": [{"key": "k", "path": "../x"}]}},
          "pod.volumes[0]", rendered_value={
              "name": "data", "configMap": {"name": "c", "items": [{"key": "k", "path": "../x"}]}}),
    _case("empty-dir-negative-size", "spec.volumes[0].emptyDir", {"sizeLimit": "-1Gi"},
          "pod.volumes[0].emptyDir"),
    _case("ephemeral-zero-storage", "spec.volumes[0]",
          {"name": "data", "mountPath": "/data",
           "ephemeral": {"resources": {"requests": {"storage": 0}}}},
          "pod.volumes[0]", rendered_value={"name": "data", "ephemeral": {"volumeClaimTemplate": {
              "spec": {"accessModes": ["ReadWriteOnce"],
                       "resources": {"requests": {"storage": 0}}}}}}),
    # tolerations
    _toleration("toleration-exists-with-value", key="a", operator="Exists", value="b"),
    _toleration("toleration-empty-key-equal", value="x"),
    _toleration("toleration-seconds-no-execute-missing", key="a", operator="Exists",
                effect="NoSchedule", tolerationSeconds=5),
    _toleration("toleration-bad-key", key="a b", operator="Exists"),
    _toleration("toleration-bad-value", key="a", value="x y"),
    _toleration("toleration-ok", key="a", operator="Exists", effect="NoExecute",
                tolerationSeconds=5),
    _toleration("toleration-match-all", operator="Exists"),
    _toleration("toleration-seconds-above-int64", key="a", operator="Exists", effect="NoExecute",
                tolerationSeconds=2**63),
    _case("deadline-int64", "spec.workload", {"kind": "Job", "job": {
        "activeDeadlineSeconds": 2**62}}, "spec.activeDeadlineSeconds", kind="Job"),
    # cron schedules and time zones
    _cron("cron-out-of-range", "schedule", "99 99 99 99 99"),
    _cron("cron-every", "schedule", "@every 5m"),
    _cron("cron-every-without-unit", "schedule", "@every 5"),
    _cron("cron-names", "schedule", "0 0 * JAN-MAR mon-fri"),
    _cron("cron-question-mark", "schedule", "0 0 ? * *"),
    _cron("cron-tz-prefix", "schedule", "CRON_TZ=UTC 0 0 * * *"),
    _cron("cron-six-fields", "schedule", "0 0 0 * * *"),
    _cron("cron-macro-trailing-space", "schedule", "@hourly "),
    _cron("cron-step-zero", "schedule", "*/0 * * * *"),
    _cron("cron-day-of-week-7", "schedule", "0 0 * * 7"),
    _cron("cron-range-backwards", "schedule", "5-1 * * * *"),
    _cron("tz-mars", "timeZone", "Mars/Olympus"),
    _cron("tz-utc", "timeZone", "UTC"),
    _cron("tz-local", "timeZone", "Local"),
    _cron("tz-etc-gmt", "timeZone", "Etc/GMT+5"),
    _cron("tz-berlin", "timeZone", "Europe/Berlin"),
    _cron("tz-lowercase", "timeZone", "europe/berlin"),
    _cron("tz-empty", "timeZone", ""),
    # init containers
    _init("init-liveness", livenessProbe=PROBE),
    _init("init-readiness", readinessProbe=PROBE),
    _init("init-startup", startupProbe=PROBE),
    _init("init-lifecycle", lifecycle={"preStop": PROBE}),
    _case("native-sidecar-probes-and-hooks", "spec.sidecars",
          [{"name": "side", "image": IMAGE, "readinessProbe": PROBE, "startupProbe": PROBE,
            "livenessProbe": PROBE, "lifecycle": {"preStop": PROBE}}], None),
    # security contexts
    _case("apparmor-empty", "spec.main.securityContext", {"appArmorProfile": {}}),
    _case("apparmor-localhost-without-profile", "spec.main.securityContext",
          {"appArmorProfile": {"type": "Localhost"}}),
    _case("apparmor-runtime-with-profile", "spec.main.securityContext",
          {"appArmorProfile": {"type": "RuntimeDefault", "localhostProfile": "x"}}),
    _case("apparmor-ok", "spec.main.securityContext",
          {"appArmorProfile": {"type": "RuntimeDefault"}}),
    _case("selinux-unknown-key", "spec.main.securityContext", {"seLinuxOptions": {"usr": "x"}}),
    _case("selinux-ok", "spec.main.securityContext", {"seLinuxOptions": {"level": "s0:c1,c2"}}),
    _case("seccomp-localhost-without-profile", "spec.main.securityContext",
          {"seccompProfile": {"type": "Localhost"}}),
    _case("seccomp-unknown-type", "spec.main.securityContext", {"seccompProfile": {"type": "X"}}),
    _case("seccomp-localhost-absolute", "spec.main.securityContext",
          {"seccompProfile": {"type": "Localhost", "localhostProfile": "/x.json"}}),
    _case("seccomp-ok", "spec.pod.securityContext", {"seccompProfile": {"type": "RuntimeDefault"}}),
    _case("pod-seccomp-unknown-key", "spec.pod.securityContext",
          {"seccompProfile": {"type": "RuntimeDefault", "extra": "1"}}),
    _case("windows-host-process", "spec.main.securityContext",
          {"windowsOptions": {"hostProcess": True}}),
    _case("run-as-user-above-int32", "spec.main.securityContext", {"runAsUser": 2**31}),
    # Pod settings and probe details
    _case("host-alias-ip", "spec.pod.hostAliases", [{"ip": "x", "hostnames": ["a"]}]),
    _case("host-alias-hostname", "spec.pod.hostAliases",
          [{"ip": "10.0.0.1", "hostnames": ["A_B"]}]),
    _case("host-alias-ok", "spec.pod.hostAliases", [{"ip": "::1", "hostnames": ["a.b"]}]),
    _case("nameserver-not-ip", "spec.pod.dnsConfig", {"nameservers": ["x"]}),
    _case("node-selector-key", "spec.pod.nodeSelector", {"a b": "x"}),
    _case("node-selector-value", "spec.pod.nodeSelector", {"a": "x y"}),
    _case("sysctl-name", "spec.pod.securityContext", {"sysctls": [{"name": "a b", "value": "1"}]}),
    _case("sysctl-ok", "spec.pod.securityContext",
          {"sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]}),
    _case("storage-class-name", "spec.volumes[0]",
          {"name": "data", "mountPath": "/data", "ephemeral": {
              "storageClassName": "A_B", "resources": {"requests": {"storage": "1Gi"}}}}, None),
    _case("probe-period-negative", "spec.main.readinessProbe", {**PROBE, "periodSeconds": -1}),
    _case("probe-period-zero", "spec.main.readinessProbe", {**PROBE, "periodSeconds": 0}),
    _case("liveness-success-2", "spec.main.livenessProbe", {**PROBE, "successThreshold": 2}),
    _case("readiness-success-2", "spec.main.readinessProbe", {**PROBE, "successThreshold": 2}),
    _case("probe-port-zero", "spec.main.readinessProbe", {"httpGet": {"port": 0}}),
    _case("probe-port-name", "spec.main.readinessProbe", {"httpGet": {"port": "a--b"}}),
    _case("probe-port-named-ok", "spec.main.readinessProbe", {"httpGet": {"port": "http"}}),
    _case("probe-tcp-port-high", "spec.main.readinessProbe", {"tcpSocket": {"port": 70000}}),
    _case("probe-no-handler", "spec.main.readinessProbe", {"periodSeconds": 5}),
    _case("probe-two-handlers", "spec.main.readinessProbe",
          {**PROBE, "tcpSocket": {"port": 8080}}),
    _case("dns-search-uppercase", "spec.pod.dnsConfig", {"searches": ["A_B"]}),
    _case("dns-search-underscore-start", "spec.pod.dnsConfig", {"searches": ["_a.b."]}),
    _case("dns-search-underscore-end", "spec.pod.dnsConfig", {"searches": ["a_b.c_"]}),
    _case("windows-user-bad-char", "spec.main.securityContext",
          {"windowsOptions": {"runAsUserName": "a|b"}}),
    _case("windows-user-two-backslashes", "spec.main.securityContext",
          {"windowsOptions": {"runAsUserName": "a\\b\\c"}}),
    _case("windows-user-no-domain", "spec.pod.securityContext",
          {"windowsOptions": {"runAsUserName": "\\u"}}),
    _case("windows-user-ok", "spec.main.securityContext",
          {"windowsOptions": {"runAsUserName": "dom\\user"}}),
    _case("windows-gmsa-name", "spec.main.securityContext",
          {"windowsOptions": {"gmsaCredentialSpecName": "A_B"}}),
    # strictness and unknown fields
    _case("replicas-string", "spec.workload.replicas", "3", None),
    _case("replicas-whole-float", "spec.workload.replicas", 3.0, None),
    _case("replicas-above-int32", "spec.workload", {"kind": "Deployment", "replicas": 2**31},
          None, kind="Deployment"),
    _case("bool-string", "spec.main.securityContext", {"runAsNonRoot": "true"}),
    _case("int-bool", "spec.main.ports[0].containerPort", True),
    _case("unknown-top-level", "specc", {}, None),
    _case("unknown-metadata", "metadata.nmae", "x", None),
    _case("metadata-label-key", "metadata.labels", {"a b": "x"}, None),
    _case("metadata-label-value", "metadata.labels", {"a": "x y"}, None),
    _case("metadata-annotation-key", "metadata.annotations", {"-a": "x y"}, None),
    _case("metadata-labels-ok", "metadata.labels", {"example.com/a": "x.y_z"}, None),
    _case("unknown-deep", "spec.main.ports[0].nmae", "x"),
    _case("unknown-in-probe", "spec.main.livenessProbe",
          {"httpGet": {"pth": "/", "port": 8080}}),
    _case("missing-api-version", "apiVersion", DELETE, None),
    _case("sidecars-null", "spec.sidecars", None, None),
    _case("termination-grace-negative", "spec.pod.terminationGracePeriodSeconds", -1),
    # size: beyond the API server's 3 MiB request limit
    _case("env-4mb", "spec.main.env", [{"name": "BIG", "value": "x" * (4 * 2**20)}]),
]


def _cel(id: str, path: str, value: Any, kind: str = "Pod") -> Case:
    return Case(id, path, value, None, kind=kind, cel=True)


SIDE = {"name": "side", "image": IMAGE}
# Every cross-field rule written as a base.Rule with CEL: one input that breaks it.
CEL_CASES = [
    _cel("cel-replicas-daemonset", "spec.workload", {"kind": "DaemonSet", "replicas": 2}),
    _cel("cel-cronjob-without-cron", "spec.workload", {"kind": "CronJob"}),
    _cel("cel-cron-for-deployment", "spec.workload",
         {"kind": "Deployment", "cron": {"schedule": "* * * * *"}}),
    _cel("cel-job-for-deployment", "spec.workload", {"kind": "Deployment", "job": {}}),
    _cel("cel-rollout-for-job", "spec.workload", {"kind": "Job", "rollout": {}}),
    _cel("cel-surge-for-statefulset", "spec.workload",
         {"kind": "StatefulSet", "rollout": {"maxSurge": 1}}),
    _cel("cel-privileged-main", "spec.main.securityContext", {"privileged": True}),
    _cel("cel-capabilities-sidecar", "spec.sidecars",
         [{**SIDE, "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}]),
    _cel("cel-sidecar-without-source", "spec.sidecars", [{"name": "side"}]),
    _cel("cel-sidecar-preset-and-profile", "spec.sidecars",
         [{"name": "side", "preset": "proxy", "profile": "p"}]),
    _cel("cel-settings-without-preset", "spec.sidecars", [{**SIDE, "proxy": {}}]),
    _cel("cel-settings-other-preset", "spec.sidecars",
         [{"name": "side", "preset": "proxy", "logging": {}}]),
    _cel("cel-init-without-image", "spec.initContainers", [{"name": "init"}]),
    _cel("cel-data-loader-without-settings", "spec.initContainers",
         [{"name": "init", "preset": "data-loader"}]),
    _cel("cel-data-loader-settings-alone", "spec.initContainers",
         [{"name": "init", "image": IMAGE, "dataLoader": {"image": IMAGE, "volume": "data"}}]),
    _cel("cel-init-probe", "spec.initContainers", [{"name": "init", "image": IMAGE,
                                                   "readinessProbe": PROBE}]),
    _cel("cel-volume-two-sources", "spec.volumes[0].configMap", {"name": "c"}),
    _cel("cel-volume-no-source", "spec.volumes", [{"name": "data", "mountPath": "/data"}]),
    _cel("cel-read-only-outside-containers", "spec.volumes",
         [{"name": "data", "mountPath": "/data", "emptyDir": {}, "containers": ["main"],
           "readOnly": ["other"]}]),
    _cel("cel-host-path", "spec.volumes",
         [{"name": "data", "mountPath": "/data", "hostPath": {"path": "/"}}]),
    _cel("cel-host-network", "spec.pod.hostNetwork", True),
    _cel("cel-host-pid", "spec.pod.hostPID", True),
    _cel("cel-host-ipc", "spec.pod.hostIPC", True),
    _cel("cel-dns-none-without-config", "spec.pod.dnsPolicy", "None"),
    _cel("cel-claim-template-for-pod", "spec.volumes",
         [{"name": "data", "mountPath": "/data",
           "claimTemplate": {"resources": {"requests": {"storage": "1Gi"}}}}]),
    _cel("cel-logging-endpoint-missing", "spec.sidecars",
         [{"name": "side", "preset": "logging", "logging": {"output": {"type": "otlp"}}}]),
    _cel("cel-logging-endpoint-for-stdout", "spec.sidecars",
         [{"name": "side", "preset": "logging",
           "logging": {"output": {"type": "stdout", "endpoint": "x:1"}}}]),
    _cel("cel-seccomp-localhost-only", "spec.pod.securityContext",
         {"seccompProfile": {"type": "RuntimeDefault", "localhostProfile": "x"}}),
    _cel("cel-apparmor-localhost-needs-profile", "spec.pod.securityContext",
         {"appArmorProfile": {"type": "Localhost"}}),
]


def _base(kind: str) -> dict[str, Any]:
    workload: dict[str, Any] = {"kind": kind}
    if kind == "CronJob":
        workload["cron"] = {"schedule": "0 0 * * *"}
    return {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": "parity"},
        "spec": {
            "workload": workload,
            "main": {"image": IMAGE, "ports": [{"name": "http", "containerPort": 8080}]},
            "volumes": [{"name": "data", "mountPath": "/data", "emptyDir": {}}],
        },
    }


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _set(body: Any, path: str, value: Any) -> None:
    steps: list[str | int] = [
        name if name else int(index) for name, index in _STEP.findall(path)
    ]
    current = body
    for step in steps[:-1]:
        current = current[step] if isinstance(step, int) else current.setdefault(step, {})
    last = steps[-1]
    if value is DELETE:
        del current[last]
    elif isinstance(value, Append):
        current.setdefault(last, []).append(copy.deepcopy(value.item))
    else:
        current[last] = copy.deepcopy(value)


def _offline(body: dict[str, Any]) -> list[FieldError]:
    """What `podpatterns validate` reports: parsing, checks, rendering."""
    return problems(body)


def _rendered(body: dict[str, Any]) -> list[dict[str, Any]]:
    pattern = parse(body)
    rendered = render_pattern(pattern, server_version=SERVER_VERSION)
    objects = rendered.objects()
    if pattern.spec.workload.kind == "Pod":
        template = rendered.template
        objects.append(render_pod(pattern, template, pod_name(pattern, template, 0)))
    else:
        objects.extend(render_workload(pattern, rendered.template).objects())
    return objects


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "Pod":
        return obj["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def _with_change(case: Case) -> list[dict[str, Any]]:
    """The base rendering with the case's change, for cases offline cannot render."""
    objects = _rendered(_base(case.kind))
    assert case.rendered is not None
    target = next(obj for obj in objects if obj["kind"] == case.kind)
    value = case.value if case.rendered_value is None else case.rendered_value
    if case.rendered.startswith("pod."):
        _set(_pod_spec(target), case.rendered[len("pod."):], value)
    else:
        _set(target, case.rendered, value)
    return objects


@pytest.fixture(scope="module")
def parity_namespace(cluster: Cluster, crds: None) -> Iterator[str]:
    name = f"t-rule-parity-{uuid.uuid4().hex[:5]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


def _refusals(cluster: Cluster, namespace: str, objects: list[dict[str, Any]]) -> list[str]:
    refused = []
    for obj in objects:
        placed = copy.deepcopy(obj)
        placed.setdefault("metadata", {})["namespace"] = namespace
        result = cluster.kubectl("create", "--dry-run=server", "-f", "-",
                                 input=yaml.safe_dump(placed), check=False)
        if result.returncode != 0:
            refused.append(f"{obj.get('kind')}: {result.stderr.strip()[:400]}")
    return refused


@pytest.mark.parametrize("case", CASES + CEL_CASES, ids=str)
def test_offline_and_the_api_server_agree(
    cluster: Cluster, parity_namespace: str, case: Case
) -> None:
    body = _base(case.kind)
    _set(body, case.path, case.value)
    offline = _offline(body)
    for problem in offline:
        assert problem.path, f"{case.id}: an offline error names no field: {problem}"
    refused = _refusals(cluster, parity_namespace, [body])
    if case.cel:
        assert refused, f"{case.id}: the CRD does not refuse it"
        # Written once, enforced twice: the API server says the same words.
        words = offline[0].message.split(": ", 1)[-1][:40] if offline else ""
        assert words and words in " ".join(refused), (case.id, words, refused)
    if not refused:
        if not offline:
            refused = _refusals(cluster, parity_namespace, _rendered(body))
        elif case.rendered is not None:
            refused = _refusals(cluster, parity_namespace, _with_change(case))
    if case.project:
        assert not refused, f"{case.id}: the API server refuses it too: {refused}"
        assert offline, f"{case.id}: the project's rule does not refuse it offline"
    elif refused:
        assert offline, f"{case.id}: the API server refuses it, offline accepts: {refused}"
    else:
        assert not offline, f"{case.id}: the API server accepts it, offline refuses: " + \
            "; ".join(map(str, offline))


def _sized(size: int) -> dict[str, Any]:
    """The base PodPattern with one env value that makes its JSON `size` bytes long."""
    body = _base("Pod")
    body["metadata"]["name"] = f"sized-{size}"
    _set(body, "spec.main.env", [{"name": "BIG", "value": ""}])
    padding = size - len(json.dumps(body, separators=(",", ":")))
    body["spec"]["main"]["env"][0]["value"] = "x" * padding
    return body


def _create(cluster: Cluster, namespace: str, obj: dict[str, Any]) -> Any:
    placed = copy.deepcopy(obj)
    placed["metadata"]["namespace"] = namespace
    return cluster.kubectl("create", "-f", "-", input=json.dumps(placed), check=False)


def test_the_size_limit_is_what_etcd_stores(cluster: Cluster, parity_namespace: str) -> None:
    """A dry run skips etcd, so this one writes: the PodPattern, and its Pod (held back by
    a scheduling gate, so that nothing runs)."""
    below = _sized(MAX_OBJECT_BYTES - 20_000)
    assert _offline(below) == []
    stored = _create(cluster, parity_namespace, below)
    assert stored.returncode == 0, stored.stderr
    pod = next(obj for obj in _rendered(below) if obj["kind"] == "Pod")
    pod["spec"]["schedulingGates"] = [{"name": "podpatterns.dev/test-hold"}]
    stored = _create(cluster, parity_namespace, pod)
    assert stored.returncode == 0, stored.stderr
    above = _sized(1_600_000)
    assert [problem.reason for problem in _offline(above)] == ["TooLarge"]
    refused = _create(cluster, parity_namespace, above)
    assert refused.returncode != 0 and "too large" in refused.stderr, refused.stderr
