"""Hypothesis strategies for PodPatterns and the SidecarProfiles they name.

An example is built in two steps:

1. `base`: a PodPattern that should be valid, assembled from the models: field names come
   from the pydantic models (by alias), enums from their `Literal` annotations, numeric
   bounds from their `ge`/`le` constraints. Every workload kind, every preset (logging,
   proxy, gpu-monitor, data-loader), SidecarProfiles, every volume source and the Pod
   settings occur. The parts that must fit together (unique names and ports, volumes that
   exist, a GPU request for the GPU monitor) are chosen so that they do.
2. `mutate`: none, one or two mutations, each a hostile value for one kind of field
   (names, env names, images, quantities, ports, paths, cron, time zones, tolerations,
   unknown keys, wrong types, nulls, sizes) or a structural change (a clash between
   presets, a missing apiVersion, a `kind: List` wrapper).

Most examples therefore are valid or one step away from it, so that both verdicts occur
often and a disagreement shrinks to the one field that causes it. `Example.mutations`
names what was done, for the counts in docs/validation.md.
"""

from __future__ import annotations

import copy
import json
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import annotated_types
import yaml
from hypothesis import strategies as st
from pydantic import BaseModel

from podpatterns.api.v1alpha1 import (
    API_VERSION,
    ContainerPort,
    CronSettings,
    EnvVar,
    LoggingSettings,
    PodPatternSpec,
    PodSettings,
    ProxySettings,
    SecurityContext,
    ServiceSettings,
    Sidecar,
    VolumeMount,
    Workload,
)
from podpatterns.api.v1alpha1.container import ContainerFields, MainContainer
from podpatterns.api.v1alpha1.podpattern import PodSecurityContext, Toleration
from podpatterns.api.v1alpha1.presets import LoggingOutput
from podpatterns.api.v1alpha1.volumes import ClaimSpec, EmptyDirSource, HostPathSource

Draw = Callable[[st.SearchStrategy[Any]], Any]
Doc = dict[str, Any]

# --- what the models say ----------------------------------------------------------------


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, __import__("types").UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def choices(model: type[BaseModel], name: str) -> tuple[Any, ...]:
    """The values a `Literal` field of `model` takes, as its annotation lists them."""
    annotation = _unwrap(model.model_fields[name].annotation)
    values = typing.get_args(annotation)
    assert values and typing.get_origin(annotation) is typing.Literal, (model, name)
    return values


def bounds(model: type[BaseModel], name: str) -> tuple[int | None, int | None]:
    """The `ge`/`le` bounds of an integer field."""
    low = high = None
    for item in model.model_fields[name].metadata:
        if isinstance(item, annotated_types.Ge):
            low = int(item.ge)  # type: ignore[call-overload]
        if isinstance(item, annotated_types.Le):
            high = int(item.le)  # type: ignore[call-overload]
    return low, high


def aliases(model: type[BaseModel]) -> list[str]:
    """The YAML names of a model's fields."""
    return [info.alias or name for name, info in model.model_fields.items()]


KINDS = choices(Workload, "kind")
MODES = choices(PodPatternSpec, "sidecar_mode")
PROTOCOLS = choices(ContainerPort, "protocol")
PULL_POLICIES = choices(ContainerFields, "image_pull_policy")
PROPAGATION = choices(VolumeMount, "mount_propagation")
TOLERATION_OPERATORS = choices(Toleration, "operator")
TOLERATION_EFFECTS = choices(Toleration, "effect")
DNS_POLICIES = choices(PodSettings, "dns_policy")
SERVICE_TYPES = choices(ServiceSettings, "type")
AGENTS = choices(LoggingSettings, "agent")
OUTPUTS = choices(LoggingOutput, "type")
ACCESS_MODES = typing.get_args(
    typing.get_args(_unwrap(ClaimSpec.model_fields["access_modes"].annotation))[0]
)
MEDIA = choices(EmptyDirSource, "medium")
HOST_PATH_TYPES = choices(HostPathSource, "type")
CONCURRENCY = choices(CronSettings, "concurrency_policy")
FS_GROUP_POLICIES = choices(PodSecurityContext, "fs_group_change_policy")
PORT_LOW, PORT_HIGH = bounds(ContainerPort, "container_port")

# --- the example -------------------------------------------------------------------------


@dataclass
class Example:
    """One input: the documents of a file (SidecarProfiles first, then the PodPattern),
    and what was done to the valid base."""

    pattern: Doc
    profiles: list[Doc] = field(default_factory=list)
    mutations: list[str] = field(default_factory=list)

    def documents(self) -> list[Doc]:
        return [*self.profiles, self.pattern]

    def to_yaml(self) -> str:
        return yaml.safe_dump_all(self.documents(), sort_keys=False, allow_unicode=False)

    def to_file_text(self) -> str:
        """The file `podpatterns validate` reads: YAML documents in JSON's flow style,
        which mean the same as block style and are written in a fraction of the time."""
        return "".join(
            "---\n" + json.dumps(document, ensure_ascii=False) + "\n"
            for document in self.documents()
        )

    def __repr__(self) -> str:
        # The file itself: what a person debugging an example wants to read.
        return f"Example(mutations={self.mutations!r}):\n{self.to_yaml()}"


# --- valid values ------------------------------------------------------------------------

NAMES = ("web", "api", "db", "worker", "cache", "job1", "a", "x-y", "shop-web")
IMAGES = (
    "nginx:1.27",
    "busybox:1.36",
    "ghcr.io/example/app:2.0.1",
    "registry.example.com:5000/team/app@sha256:" + "ab" * 32,
)
ENV_NAMES = ("APP_MODE", "LOG_LEVEL", "_PRIVATE", "http_proxy", "A1", "my.var", "1START")
QUANTITIES_CPU = ("100m", "250m", "1", "2", 1, "0.5")
QUANTITIES_MEMORY = ("64Mi", "128Mi", "1Gi", "512M", 1048576)
TIME_ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")
SCHEDULES = ("*/5 * * * *", "0 3 * * *", "@hourly", "@daily", "15 */2 * * 1-5", "0 0 1 * *")


def _container_name(index: int) -> str:
    return ("app", "side", "helper", "init", "more", "extra", "sv", "t")[index % 8] + (
        "" if index < 8 else str(index)
    )


@st.composite
def env_list(draw: Draw) -> list[Doc]:
    names = draw(st.lists(st.sampled_from(ENV_NAMES), max_size=3, unique=True))
    env: list[Doc] = []
    for name in names:
        kind = draw(st.sampled_from(("value", "value", "field", "configmap")))
        if kind == "value":
            env.append({"name": name, "value": draw(st.sampled_from(("1", "debug", "", "a b")))})
        elif kind == "field":
            env.append({"name": name, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
        else:
            env.append(
                {"name": name, "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}
            )
    return env


@st.composite
def resources(draw: Draw, gpu: bool = False) -> Doc:
    cpu = draw(st.sampled_from(QUANTITIES_CPU))
    memory = draw(st.sampled_from(QUANTITIES_MEMORY))
    out: Doc = {}
    shape = draw(st.sampled_from(("requests", "limits", "both")))
    if shape in ("requests", "both"):
        out["requests"] = {"cpu": cpu, "memory": memory}
    if shape in ("limits", "both"):
        # The same amounts as requested: a limit is never below its request.
        out["limits"] = {"cpu": cpu, "memory": memory}
    if gpu:
        out.setdefault("limits", {})["nvidia.com/gpu"] = draw(st.sampled_from((1, 2, "1")))
    return out


@st.composite
def probe(draw: Draw, port: int | None) -> Doc:
    kind = draw(st.sampled_from(("exec", "http", "tcp") if port else ("exec",)))
    if kind == "exec":
        handler: Doc = {"exec": {"command": ["true"]}}
    elif kind == "http":
        handler = {"httpGet": {"path": "/healthz", "port": port}}
    else:
        handler = {"tcpSocket": {"port": port}}
    extra = draw(st.sampled_from(({}, {"periodSeconds": 10}, {"initialDelaySeconds": 1})))
    return {**handler, **extra}


@st.composite
def security_context(draw: Draw) -> Doc:
    context: Doc = {}
    if draw(st.booleans()):
        context["runAsNonRoot"] = True
        context["runAsUser"] = draw(st.sampled_from((1000, 65532)))
    if draw(st.booleans()):
        context["allowPrivilegeEscalation"] = False
        context["capabilities"] = {"drop": ["ALL"]}
    if draw(st.booleans()):
        context["readOnlyRootFilesystem"] = draw(st.booleans())
    if draw(st.booleans()):
        context["seccompProfile"] = {
            "type": draw(st.sampled_from(("RuntimeDefault", "Unconfined")))
        }
    return context


@st.composite
def container(draw: Draw, name: str, ports: list[int], gpu: bool = False) -> Doc:
    """Core/v1 Container fields of a custom container (the main one or a sidecar)."""
    entry: Doc = {"name": name, "image": draw(st.sampled_from(IMAGES))}
    if ports:
        entry["ports"] = [
            {"containerPort": port, **({"name": f"p{port}"} if draw(st.booleans()) else {})}
            for port in ports
        ]
        if draw(st.booleans()):
            entry["ports"][0]["protocol"] = draw(st.sampled_from(PROTOCOLS))
    if draw(st.booleans()):
        entry["command"] = ["sh", "-c", "sleep 3600"]
    if draw(st.booleans()):
        entry["env"] = draw(env_list())
    if draw(st.booleans()) or gpu:
        entry["resources"] = draw(resources(gpu=gpu))
    if draw(st.integers(0, 3)) == 3:
        entry["readinessProbe"] = draw(probe(ports[0] if ports else None))
    if draw(st.integers(0, 4)) == 4:
        entry["lifecycle"] = {"preStop": {"exec": {"command": ["sh", "-c", "sleep 1"]}}}
    if draw(st.integers(0, 2)) == 2:
        entry["securityContext"] = draw(security_context())
    if draw(st.integers(0, 3)) == 3:
        entry["imagePullPolicy"] = draw(st.sampled_from(PULL_POLICIES))
    if draw(st.integers(0, 4)) == 4:
        entry["workingDir"] = draw(st.sampled_from(("/srv", "/work/dir")))
    if draw(st.integers(0, 5)) == 5:
        entry["envFrom"] = [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}]
    return entry


# --- volumes -----------------------------------------------------------------------------

VOLUME_SOURCES = ("emptyDir", "persistentVolumeClaim", "configMap", "secret", "ephemeral")


@st.composite
def volume(draw: Draw, name: str, path: str, kind: str, source: str | None = None) -> Doc:
    sources = (*VOLUME_SOURCES, "claimTemplate") if kind == "StatefulSet" else VOLUME_SOURCES
    source = source or draw(st.sampled_from(sources))
    entry: Doc = {"name": name, "mountPath": path}
    claim = {
        "accessModes": [draw(st.sampled_from(ACCESS_MODES))],
        "resources": {"requests": {"storage": draw(st.sampled_from(("1Gi", "10Gi", 1000000)))}},
    }
    if source == "emptyDir":
        entry["emptyDir"] = draw(
            st.sampled_from(({}, {"medium": "Memory"}, {"sizeLimit": "1Gi"}, {"medium": ""}))
        )
    elif source == "persistentVolumeClaim":
        entry["persistentVolumeClaim"] = {"claimName": f"{name}-claim"}
    elif source == "configMap":
        entry["configMap"] = {"name": f"{name}-cm"}
        if draw(st.booleans()):
            entry["configMap"]["items"] = [{"key": "a", "path": "sub/a.conf", "mode": 0o644}]
        if draw(st.booleans()):
            entry["configMap"]["defaultMode"] = 0o440
    elif source == "secret":
        entry["secret"] = {"secretName": f"{name}-secret", "optional": draw(st.booleans())}
    elif source == "ephemeral":
        if draw(st.booleans()):
            claim["storageClassName"] = "standard"
        entry["ephemeral"] = claim
    else:
        entry["claimTemplate"] = claim
    return entry


# --- presets and profiles ----------------------------------------------------------------


@st.composite
def logging_settings(draw: Draw, directory: str) -> Doc:
    settings: Doc = {}
    if draw(st.booleans()):
        settings["agent"] = draw(st.sampled_from(AGENTS))
    settings["dir"] = directory
    if draw(st.booleans()):
        settings["paths"] = draw(
            st.sampled_from((["*.log"], ["access.log", "error.log"], ["app/*.json"]))
        )
    output = draw(st.sampled_from(OUTPUTS))
    if output == "forward" and settings.get("agent") != "fluent-bit":
        output = "stdout"
    if output != "stdout":
        endpoint = {
            "otlp": "otel-gateway.observability.svc:4317",
            "http": "https://logs.example.com/ingest",
            "forward": "fluentd.logging.svc:24224",
        }[output]
        settings["output"] = {"type": output, "endpoint": endpoint}
    return settings


@st.composite
def profile(draw: Draw, name: str, index: int = 0) -> Doc:
    """A SidecarProfile: a preset, or a custom container, maybe with a grant."""
    base = draw(st.sampled_from(("logging", "proxy", "custom", "custom-privileged")))
    spec: Doc = {}
    if base == "logging":
        spec["preset"] = "logging"
        spec["logging"] = draw(logging_settings(f"/var/log/profile{index}"))
    elif base == "proxy":
        spec["preset"] = "proxy"
        spec["proxy"] = {"port": 8443 + index, "targetPort": 3000}
    else:
        spec["container"] = {"image": draw(st.sampled_from(IMAGES)), "command": ["sleep", "1d"]}
        if draw(st.booleans()):
            spec["container"]["resources"] = {"limits": {"memory": "64Mi"}}
        if base == "custom-privileged":
            spec["allow"] = {"hostPath": True, "capabilities": ["NET_ADMIN"]}
            spec["container"]["securityContext"] = {"capabilities": {"add": ["NET_ADMIN"]}}
            spec["volumes"] = [
                {
                    "name": f"host-logs{index}",
                    "mountPath": f"/host/var/log{index}",
                    "hostPath": {"path": "/var/log", "type": "Directory"},
                }
            ]
    return {
        "apiVersion": API_VERSION,
        "kind": "SidecarProfile",
        "metadata": {"name": name},
        "spec": spec,
    }


# --- workload and Pod settings -----------------------------------------------------------


@st.composite
def workload(draw: Draw, kind: str) -> Doc:
    out: Doc = {"kind": kind}
    if kind in ("Pod", "Deployment", "StatefulSet") and draw(st.booleans()):
        out["replicas"] = draw(st.integers(0, 3))
    if kind in ("Pod", "Deployment", "StatefulSet", "DaemonSet") and draw(st.booleans()):
        rollout: Doc = {"maxUnavailable": draw(st.sampled_from((1, "25%", "50%", 2)))}
        if kind in ("Pod", "Deployment"):
            rollout["maxSurge"] = draw(st.sampled_from((0, 1, "25%", "100%")))
        out["rollout"] = rollout
    if kind in ("Job", "CronJob") and draw(st.booleans()):
        out["job"] = {
            "completions": draw(st.integers(1, 3)),
            "parallelism": draw(st.integers(1, 2)),
            "backoffLimit": draw(st.integers(0, 6)),
        }
        if draw(st.booleans()):
            out["job"]["activeDeadlineSeconds"] = 600
            out["job"]["ttlSecondsAfterFinished"] = 0
    if kind == "CronJob":
        cron: Doc = {"schedule": draw(st.sampled_from(SCHEDULES))}
        if draw(st.booleans()):
            cron["timeZone"] = draw(st.sampled_from(TIME_ZONES))
        if draw(st.booleans()):
            cron["concurrencyPolicy"] = draw(st.sampled_from(CONCURRENCY))
        if draw(st.booleans()):
            cron["successfulJobsHistoryLimit"] = 1
            cron["startingDeadlineSeconds"] = 60
        out["cron"] = cron
    return out


@st.composite
def pod_settings(draw: Draw, gpu: bool) -> Doc:
    pod: Doc = {}
    if draw(st.booleans()):
        pod["labels"] = {"team": "shop", "example.com/tier": draw(st.sampled_from(("web", "")))}
    if draw(st.booleans()):
        pod["annotations"] = {"example.com/note": "any text: at all\n"}
    if draw(st.integers(0, 3)) == 3:
        pod["serviceAccountName"] = draw(st.sampled_from(("default", "runner")))
    if draw(st.integers(0, 3)) == 3:
        pod["nodeSelector"] = {"kubernetes.io/os": "linux"}
    if draw(st.integers(0, 3)) == 3 or gpu:
        pod["tolerations"] = draw(st.lists(toleration(), min_size=1, max_size=2))
    if draw(st.integers(0, 4)) == 4:
        pod["affinity"] = {
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 1,
                        "preference": {
                            "matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]
                        },
                    }
                ]
            }
        }
    if draw(st.integers(0, 4)) == 4:
        pod["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"team": "shop"}},
            }
        ]
    if draw(st.integers(0, 3)) == 3:
        context: Doc = {"runAsNonRoot": True, "runAsUser": 1000, "fsGroup": 2000}
        if draw(st.booleans()):
            context["fsGroupChangePolicy"] = draw(st.sampled_from(FS_GROUP_POLICIES))
        if draw(st.booleans()):
            context["sysctls"] = [{"name": "net.ipv4.ip_local_port_range", "value": "1024 65000"}]
        if draw(st.booleans()):
            context["supplementalGroups"] = [3000]
        pod["securityContext"] = context
    if draw(st.integers(0, 3)) == 3:
        pod["terminationGracePeriodSeconds"] = draw(st.sampled_from((0, 30, 120)))
    if draw(st.integers(0, 4)) == 4:
        pod["imagePullSecrets"] = [{"name": "registry-creds"}]
    if draw(st.integers(0, 4)) == 4:
        pod["shareProcessNamespace"] = draw(st.booleans())
    if draw(st.integers(0, 4)) == 4:
        pod["hostAliases"] = [{"ip": "10.0.0.1", "hostnames": ["db.local"]}]
    if draw(st.integers(0, 3)) == 3:
        policy = draw(st.sampled_from(DNS_POLICIES))
        pod["dnsPolicy"] = policy
        if policy == "None" or draw(st.booleans()):
            pod["dnsConfig"] = {
                "nameservers": ["10.96.0.10"],
                "searches": ["svc.cluster.local"],
                "options": [{"name": "ndots", "value": "2"}],
            }
    return pod


@st.composite
def toleration(draw: Draw) -> Doc:
    operator = draw(st.sampled_from(TOLERATION_OPERATORS))
    item: Doc = {"key": draw(st.sampled_from(("dedicated", "example.com/gpu", "nvidia.com/gpu")))}
    item["operator"] = operator
    if operator == "Equal":
        item["value"] = draw(st.sampled_from(("yes", "team-a", "")))
    effect = draw(st.sampled_from((None, *TOLERATION_EFFECTS)))
    if effect is not None:
        item["effect"] = effect
        if effect == "NoExecute" and draw(st.booleans()):
            item["tolerationSeconds"] = 300
    return item


# --- the PodPattern ----------------------------------------------------------------------


@st.composite
def base(draw: Draw) -> Example:
    """A PodPattern (and the profiles it names) meant to be valid."""
    kind = draw(st.sampled_from(KINDS))
    name = draw(st.sampled_from(NAMES))
    # Ports from a range no preset uses, one list for the whole Pod: containers that run
    # side by side share one network namespace.
    free_ports = iter(
        draw(st.lists(st.integers(3000, 3999), min_size=12, max_size=12, unique=True))
    )
    kinds_of_sidecar = draw(
        st.lists(
            st.sampled_from(("custom", "logging", "proxy", "gpu-monitor", "profile")),
            max_size=3,
        )
    )
    gpu = "gpu-monitor" in kinds_of_sidecar or draw(st.integers(0, 5)) == 5
    main_ports = [next(free_ports) for _ in range(draw(st.integers(0, 2)))]
    if "proxy" in kinds_of_sidecar and not main_ports:
        main_ports = [next(free_ports)]
    main = draw(container(draw(st.sampled_from(("app", "main", "server"))), main_ports, gpu))
    if draw(st.integers(0, 4)) == 4:
        del main["name"]  # defaults to main
    names = {main.get("name", "main")}

    volumes: list[Doc] = []
    for index in range(draw(st.integers(0, 3))):
        volumes.append(draw(volume(f"vol{index}", f"/data/v{index}", kind)))

    profiles: list[Doc] = []
    sidecars: list[Doc] = []
    granted: set[str] = set()
    proxy_port = 8080
    for index, sidecar_kind in enumerate(kinds_of_sidecar):
        sidecar_name = f"{sidecar_kind.replace('-', '')[:6]}{index}"
        names.add(sidecar_name)
        if sidecar_kind == "custom":
            sidecar = draw(
                container(sidecar_name, [next(free_ports)] if draw(st.booleans()) else [])
            )
        elif sidecar_kind == "logging":
            sidecar = {"name": sidecar_name, "preset": "logging"}
            if draw(st.booleans()):
                sidecar["logging"] = draw(logging_settings(f"/var/log/app{index}"))
            else:
                sidecar["logging"] = {"dir": f"/var/log/app{index}"}
        elif sidecar_kind == "proxy":
            sidecar = {
                "name": sidecar_name,
                "preset": "proxy",
                "proxy": {"port": proxy_port + index},
            }
            if draw(st.booleans()):
                sidecar["proxy"]["tls"] = {"secretName": "web-tls"}
        elif sidecar_kind == "gpu-monitor":
            sidecar = {
                "name": sidecar_name,
                "preset": "gpu-monitor",
                "gpuMonitor": {"port": 9400 + index},
            }
        else:
            profile_name = f"diff-{name}-{index}"
            profiles.append(draw(profile(profile_name, index)))
            sidecar = {"name": sidecar_name, "profile": profile_name}
            if profiles[-1]["spec"].get("preset") == "proxy" and not main_ports:
                sidecar_kind = "proxy"
            granting = "allow" in profiles[-1]["spec"]
            if granting:
                granted.add(sidecar_name)
            elif draw(st.booleans()):
                # Open to consumers only where the profile grants nothing (docs/security.md).
                sidecar["env"] = [{"name": "TEAM", "value": name}]
        sidecars.append(sidecar)

    inits: list[Doc] = []
    for index in range(draw(st.integers(0, 2))):
        init_name = f"init{index}"
        names.add(init_name)
        fillable = [v for v in volumes if "emptyDir" in v or "ephemeral" in v]
        if fillable and draw(st.booleans()):
            target = draw(st.sampled_from(fillable))
            inits.append(
                {
                    "name": init_name,
                    "preset": "data-loader",
                    "dataLoader": {
                        "image": "curlimages/curl:8.10.1",
                        "command": [
                            "curl",
                            "-fsSLo",
                            f"{target['mountPath']}/x",
                            "https://example.com/x",
                        ],
                        "volume": target["name"],
                    },
                }
            )
        else:
            init = {
                "name": init_name,
                "image": draw(st.sampled_from(IMAGES)),
                "command": ["sh", "-c", "true"],
            }
            if draw(st.booleans()):
                init["env"] = draw(env_list())
            inits.append(init)

    for entry in volumes:
        if draw(st.integers(0, 2)) == 2:
            members = sorted(names - granted)
            chosen = draw(st.lists(st.sampled_from(members), min_size=1, unique=True))
            entry["containers"] = chosen
            if draw(st.booleans()):
                entry["readOnly"] = chosen[:1]
        elif draw(st.integers(0, 3)) == 3 and "configMap" not in entry and "secret" not in entry:
            entry["readOnly"] = [main.get("name", "main")]
    # A data loader writes to its volume: it must be mounted read-write in the loader.
    for init in inits:
        if "dataLoader" in init:
            for entry in volumes:
                if entry["name"] == init["dataLoader"]["volume"]:
                    if "containers" in entry and init["name"] not in entry["containers"]:
                        entry["containers"].append(init["name"])
                    entry["readOnly"] = [c for c in entry.get("readOnly", []) if c != init["name"]]
                    if not entry["readOnly"]:
                        entry.pop("readOnly")

    if volumes and draw(st.integers(0, 3)) == 3:
        target = volumes[0]
        mount: Doc = {"name": target["name"], "mountPath": "/extra/sub", "subPath": "part"}
        if draw(st.booleans()):
            mount["readOnly"] = True
        if "containers" in target and main.get("name", "main") not in target["containers"]:
            target["containers"].append(main.get("name", "main"))
        main["volumeMounts"] = [mount]

    spec: Doc = {"main": main}
    if draw(st.integers(0, 4)) != 0 or kind != "Pod":
        spec["workload"] = draw(workload(kind))
    if sidecars:
        spec["sidecars"] = sidecars
    if inits:
        spec["initContainers"] = inits
    if volumes:
        spec["volumes"] = volumes
    pod = draw(pod_settings(gpu))
    if granted:
        pod.pop("shareProcessNamespace", None)
    if pod:
        spec["pod"] = pod
    has_proxy = "proxy" in kinds_of_sidecar or any(
        p["spec"].get("preset") == "proxy" for p in profiles
    )
    if (main_ports or has_proxy) and draw(st.integers(0, 2)) == 2:
        service: Doc = {}
        if draw(st.booleans()):
            service["type"] = draw(st.sampled_from(SERVICE_TYPES))
        if draw(st.booleans()):
            service["port"] = draw(st.sampled_from((80, 443, 8080)))
        spec["service"] = service
    if draw(st.booleans()):
        spec["sidecarMode"] = draw(st.sampled_from(MODES))
    pattern = {
        "apiVersion": API_VERSION,
        "kind": "PodPattern",
        "metadata": {"name": name},
        "spec": spec,
    }
    return Example(pattern=pattern, profiles=profiles)


# --- mutations ---------------------------------------------------------------------------

Mutation = Callable[[Draw, Example], str | None]
MUTATIONS: dict[str, Mutation] = {}


def mutation(func: Mutation) -> Mutation:
    MUTATIONS[func.__name__] = func
    return func


def _containers(example: Example) -> list[Doc]:
    spec = example.pattern["spec"]
    return [
        spec["main"],
        *[entry for entry in spec.get("sidecars") or [] if isinstance(entry, dict)],
        *[entry for entry in spec.get("initContainers") or [] if isinstance(entry, dict)],
    ]


def _pick(draw: Draw, items: list[Any]) -> Any:
    return draw(st.sampled_from(items)) if items else None


HOSTILE_NAMES = (
    "web\n",
    "Web",
    "web-",
    "-web",
    "a" * 64,
    "a" * 53,
    "web.app",
    "web_app",
    "",
    "wéb",
    "1web",
)


@mutation
def bad_object_name(draw: Draw, example: Example) -> str | None:
    value = draw(st.sampled_from(HOSTILE_NAMES))
    example.pattern["metadata"]["name"] = value
    return f"metadata.name={value!r}"


@mutation
def bad_container_name(draw: Draw, example: Example) -> str | None:
    entry = _pick(draw, [c for c in _containers(example) if "name" in c])
    if entry is None:
        return None
    value = draw(st.sampled_from(HOSTILE_NAMES))
    entry["name"] = value
    return f"container name={value!r}"


@mutation
def bad_volume_name(draw: Draw, example: Example) -> str | None:
    volume_entry = _pick(draw, example.pattern["spec"].get("volumes") or [])
    if volume_entry is None:
        return None
    value = draw(st.sampled_from(HOSTILE_NAMES))
    volume_entry["name"] = value
    return f"volume name={value!r}"


HOSTILE_ENV_NAMES = ("A=B", "ÄPFEL", "A\tB", "A\nB", "", "A B", "1ABC", "-x", "a" * 300, "💥")


@mutation
def bad_env_name(draw: Draw, example: Example) -> str:
    entry = draw(st.sampled_from(_containers(example)))
    value = draw(st.sampled_from(HOSTILE_ENV_NAMES))
    entry.setdefault("env", []).append({"name": value, "value": "x"})
    return f"env name={value!r}"


@mutation
def env_value_and_from(draw: Draw, example: Example) -> str:
    entry = draw(st.sampled_from(_containers(example)))
    entry.setdefault("env", []).append(
        {"name": "BOTH", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    )
    return "env value and valueFrom"


@mutation
def duplicate_env(draw: Draw, example: Example) -> str:
    entry = draw(st.sampled_from(_containers(example)))
    entry.setdefault("env", []).extend(
        [{"name": "DUP", "value": "1"}, {"name": "DUP", "value": "2"}]
    )
    return "duplicate env name"


HOSTILE_IMAGES = ("nginx :1.27", " nginx:1.27", "nginx:1.27\n", "nginx\t", "", "NGINX:1.27", "a b")


@mutation
def bad_image(draw: Draw, example: Example) -> str | None:
    entry = _pick(draw, [c for c in _containers(example) if "image" in c])
    if entry is None:
        return None
    value = draw(st.sampled_from(HOSTILE_IMAGES))
    entry["image"] = value
    return f"image={value!r}"


HOSTILE_QUANTITIES = (
    "-1",
    -1,
    "-100m",
    "0.5",
    "1e100",
    "1Ki",
    "1.5",
    "0",
    "1m",
    "99999999999999999999",
    "1e3",
    0,
)


@mutation
def bad_quantity(draw: Draw, example: Example) -> str:
    entry = draw(st.sampled_from(_containers(example)))
    resource = draw(
        st.sampled_from(
            (
                "cpu",
                "memory",
                "nvidia.com/gpu",
                "example.com/foo",
                "ephemeral-storage",
                "hugepages-2Mi",
                "bad name",
                "Cpu",
            )
        )
    )
    side = draw(st.sampled_from(("limits", "requests")))
    value = draw(st.sampled_from((*HOSTILE_QUANTITIES, "1", 2, "512Mi")))
    entry.setdefault("resources", {}).setdefault(side, {})[resource] = value
    return f"resources.{side}[{resource}]={value!r}"


@mutation
def requests_above_limits(draw: Draw, example: Example) -> str:
    entry = draw(st.sampled_from(_containers(example)))
    resource = draw(st.sampled_from(("cpu", "memory", "nvidia.com/gpu")))
    small, big = {"cpu": ("100m", "2"), "memory": ("64Mi", "1Gi"), "nvidia.com/gpu": (1, 2)}[
        resource
    ]
    res = entry.setdefault("resources", {})
    res.setdefault("limits", {})[resource] = small
    res.setdefault("requests", {})[resource] = big
    return f"requests[{resource}] above limits"


@mutation
def bad_port(draw: Draw, example: Example) -> str:
    entry = draw(st.sampled_from(_containers(example)))
    number = draw(st.sampled_from((0, -1, PORT_HIGH + 1, 3999, "80", 80.0, PORT_LOW, PORT_HIGH)))
    port: Doc = {"containerPort": number}
    if draw(st.booleans()):
        port["name"] = draw(st.sampled_from(("8080", "a--b", "Http", "a" * 16, "-a", "h\n", "h")))
    if draw(st.integers(0, 3)) == 3:
        port["protocol"] = draw(st.sampled_from(("tcp", "HTTP", "UDP")))
    entry.setdefault("ports", []).append(port)
    return f"port {port!r}"


@mutation
def bad_port_name(draw: Draw, example: Example) -> str:
    entry = draw(st.sampled_from(_containers(example)))
    name = draw(
        st.sampled_from(("8080", "a--b", "Http", "a" * 16, "a" * 15, "-a", "h\n", "1a", "a1"))
    )
    entry.setdefault("ports", []).append({"containerPort": 3999, "name": name})
    return f"port name {name!r}"


HOSTILE_PATHS = ("data", "/data/../x", "//data", "/data/./", "/", "/data/", "/a:b", "/data\n", "")


@mutation
def bad_mount_path(draw: Draw, example: Example) -> str:
    volumes = example.pattern["spec"].get("volumes") or []
    value = draw(st.sampled_from((*HOSTILE_PATHS, "/data/v0/", "//data/v0", "/data/./v0")))
    if volumes and draw(st.booleans()):
        target = draw(st.sampled_from(volumes))
        target["mountPath"] = value
        return f"volume mountPath={value!r}"
    example.pattern["spec"].setdefault("volumes", []).append(
        {"name": "extra", "mountPath": value, "emptyDir": {}}
    )
    return f"new volume mountPath={value!r}"


@mutation
def bad_sub_path(draw: Draw, example: Example) -> str:
    spec = example.pattern["spec"]
    volumes = spec.setdefault("volumes", [])
    if not volumes:
        volumes.append({"name": "scratch", "mountPath": "/scratch", "emptyDir": {}})
    target = volumes[0]
    target.pop("containers", None)
    target.pop("readOnly", None)
    mount: Doc = {"name": target["name"], "mountPath": "/sub"}
    choice = draw(st.sampled_from(("subPath", "subPathExpr", "mountPropagation", "both")))
    if choice in ("subPath", "both"):
        mount["subPath"] = draw(
            st.sampled_from(("/abs", "../up", "a/../../b", "a/..", "ok/x", "..a"))
        )
    if choice in ("subPathExpr", "both"):
        mount["subPathExpr"] = draw(st.sampled_from(("$(POD)", "/$(POD)", "../$(X)")))
    if choice == "mountPropagation":
        mount["mountPropagation"] = draw(st.sampled_from(PROPAGATION))
        if draw(st.booleans()):
            mount["readOnly"] = draw(st.booleans())
    spec["main"].setdefault("volumeMounts", []).append(mount)
    return f"volumeMount {mount!r}"


@mutation
def bad_cron(draw: Draw, example: Example) -> str:
    spec = example.pattern["spec"]
    spec["workload"] = {"kind": "CronJob", "cron": {"schedule": "* * * * *"}}
    cron = spec["workload"]["cron"]
    if draw(st.booleans()):
        cron["schedule"] = draw(
            st.sampled_from(
                (
                    "99 99 99 99 99",
                    "@every 5m",
                    "* * * *",
                    "* * * * * *",
                    "@yearly",
                    "@reboot",
                    "*/0 * * * *",
                    "0 0 30 2 *",
                    "TZ=UTC * * * * *",
                    "60 * * * *",
                    "* * * JAN MON",
                    "@hourly\n",
                    " * * * * *",
                )
            )
        )
    else:
        cron["timeZone"] = draw(
            st.sampled_from(
                (
                    "Mars/Olympus",
                    "UTC",
                    "Local",
                    "",
                    "utc",
                    "Europe/Berlin ",
                    "../etc",
                    "EST",
                    "Etc/GMT+5",
                )
            )
        )
    # Volumes that only a StatefulSet can have do not come along.
    spec["volumes"] = [v for v in spec.get("volumes") or [] if "claimTemplate" not in v]
    if not spec["volumes"]:
        spec.pop("volumes")
    return f"cron {cron!r}"


@mutation
def bad_toleration(draw: Draw, example: Example) -> str:
    item = draw(
        st.sampled_from(
            (
                {"operator": "Exists", "value": "x"},
                {"key": "", "operator": "Equal", "value": "x"},
                {"operator": "Equal"},
                {"key": "k", "effect": "NoSchedule", "tolerationSeconds": 10},
                {"key": "k", "effect": "NoExecute", "tolerationSeconds": -5},
                {"key": "bad key!", "operator": "Exists"},
                {"key": "k", "value": "bad value!"},
                {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
                {"operator": "Exists"},
                {"key": "k", "operator": "Lt", "value": "5"},
            )
        )
    )
    example.pattern["spec"].setdefault("pod", {}).setdefault("tolerations", []).append(dict(item))
    return f"toleration {item!r}"


@mutation
def init_with_probe(draw: Draw, example: Example) -> str:
    field_name = draw(
        st.sampled_from(("readinessProbe", "livenessProbe", "startupProbe", "lifecycle"))
    )
    value = (
        {"preStop": {"exec": {"command": ["true"]}}}
        if field_name == "lifecycle"
        else {"exec": {"command": ["true"]}}
    )
    example.pattern["spec"].setdefault("initContainers", []).append(
        {"name": "probed", "image": "busybox:1.36", field_name: value}
    )
    return f"init container with {field_name}"


@mutation
def bad_security_block(draw: Draw, example: Example) -> str:
    entry = draw(st.sampled_from(_containers(example)))
    where = draw(st.sampled_from(("container", "pod")))
    block, value = draw(
        st.sampled_from(
            (
                ("appArmorProfile", {}),
                ("appArmorProfile", {"type": "Localhost"}),
                ("appArmorProfile", {"type": "RuntimeDefault"}),
                ("seLinuxOptions", {"foo": "bar"}),
                ("seLinuxOptions", {"level": "s0:c123,c456"}),
                ("seccompProfile", {"type": "Localhost"}),
                ("seccompProfile", {"type": "Bogus"}),
                ("seccompProfile", {}),
                ("windowsOptions", {"runAsUserName": 5}),
                ("runAsUser", -1),
                ("runAsUser", 2**31),
                ("procMount", "Unmasked"),
                ("capabilities", {"drop": ["ALL", "all"]}),
            )
        )
    )
    if where == "pod":
        if block in ("procMount", "capabilities"):
            block = "runAsGroup"
        example.pattern["spec"].setdefault("pod", {}).setdefault("securityContext", {})[block] = (
            copy.deepcopy(value)
        )
        return f"pod.securityContext.{block}={value!r}"
    entry.setdefault("securityContext", {})[block] = copy.deepcopy(value)
    return f"securityContext.{block}={value!r}"


@mutation
def wrong_type(draw: Draw, example: Example) -> str:
    spec = example.pattern["spec"]
    choice = draw(
        st.sampled_from(
            (
                "replicas-string",
                "replicas-int32",
                "replicas-negative",
                "replicas-float",
                "port-string",
                "readonly-string",
                "command-string",
                "env-number",
                "mode-lower",
                "kind-lower",
                "labels-number",
                "replicas-bool",
                "replicas-int32-max",
            )
        )
    )
    kind = (spec.get("workload") or {}).get("kind", "Pod")
    if choice.startswith("replicas") and kind not in ("Pod", "Deployment", "StatefulSet"):
        spec["workload"] = {"kind": "Deployment"}
    if choice == "replicas-string":
        spec.setdefault("workload", {})["replicas"] = "3"
    elif choice == "replicas-int32":
        spec.setdefault("workload", {})["replicas"] = 2**31
    elif choice == "replicas-int32-max":
        spec.setdefault("workload", {})["replicas"] = 2**31 - 1
    elif choice == "replicas-negative":
        spec.setdefault("workload", {})["replicas"] = -1
    elif choice == "replicas-float":
        spec.setdefault("workload", {})["replicas"] = 1.5
    elif choice == "replicas-bool":
        spec.setdefault("workload", {})["replicas"] = True
    elif choice == "port-string":
        spec["main"]["ports"] = [{"containerPort": "8081"}]
    elif choice == "readonly-string":
        spec.setdefault("volumes", []).append(
            {"name": "ro", "mountPath": "/ro", "readOnly": "yes", "emptyDir": {}}
        )
    elif choice == "command-string":
        spec["main"]["command"] = "sleep 1"
    elif choice == "env-number":
        spec["main"]["env"] = [{"name": "N", "value": 5}]
    elif choice == "mode-lower":
        spec["sidecarMode"] = "native"
    elif choice == "kind-lower":
        spec.setdefault("workload", {})["kind"] = "deployment"
    else:
        spec.setdefault("pod", {})["labels"] = {"n": 5}
    return f"wrong type {choice}"


@mutation
def unknown_field(draw: Draw, example: Example) -> str:
    spec = example.pattern["spec"]
    where = draw(
        st.sampled_from(("spec", "metadata", "main", "top", "workload", "volume", "pod", "profile"))
    )
    if where == "spec":
        spec["specc"] = {}
    elif where == "metadata":
        example.pattern["metadata"]["nmae"] = "x"
    elif where == "main":
        spec["main"][draw(st.sampled_from(("imagee", "Image", "resource", "restartPolicy")))] = "x"
    elif where == "top":
        example.pattern["specc"] = {"main": {}}
    elif where == "workload":
        spec.setdefault("workload", {})["replica"] = 2
    elif where == "volume":
        spec.setdefault("volumes", []).append(
            {"name": "u", "mountPath": "/u", "emptyDir": {"sizeLimt": "1Gi"}}
        )
    elif where == "pod":
        spec.setdefault("pod", {})["nodeName"] = "node-1"
    elif example.profiles:
        example.profiles[0]["spec"]["containr"] = {}
    else:
        spec["main"]["stdin"] = True
    return f"unknown field at {where}"


@mutation
def missing_top_level(draw: Draw, example: Example) -> str:
    choice = draw(st.sampled_from(("apiVersion", "kind", "metadata-name", "wrong-version")))
    if choice == "apiVersion":
        del example.pattern["apiVersion"]
    elif choice == "kind":
        example.pattern["kind"] = "Podpattern"
    elif choice == "metadata-name":
        example.pattern["metadata"] = {}
    else:
        example.pattern["apiVersion"] = "podpatterns.dev/v1"
    return f"top level {choice}"


@mutation
def list_wrapper(draw: Draw, example: Example) -> str:
    example.pattern = {"apiVersion": "v1", "kind": "List", "items": [example.pattern]}
    return "kind: List wrapper"


@mutation
def nulls(draw: Draw, example: Example) -> str:
    spec = example.pattern["spec"]
    where = draw(
        st.sampled_from(
            (
                "sidecars",
                "volumes",
                "initContainers",
                "pod",
                "env",
                "workload",
                "service",
                "ports",
                "labels",
                "image",
                "main",
            )
        )
    )
    if where == "env":
        spec["main"]["env"] = None
    elif where == "ports":
        spec["main"]["ports"] = None
    elif where == "image":
        spec["main"]["image"] = None
    elif where == "labels":
        spec.setdefault("pod", {})["labels"] = None
    else:
        spec[where] = None
    return f"{where}: null"


@mutation
def huge(draw: Draw, example: Example) -> str:
    size = draw(st.sampled_from((300_000, 1_600_000)))
    example.pattern["spec"]["main"].setdefault("env", []).append(
        {"name": "BIG", "value": "x" * size}
    )
    return f"env value of {size} bytes"


@mutation
def bad_labels(draw: Draw, example: Example) -> str:
    pod = example.pattern["spec"].setdefault("pod", {})
    key, value = draw(
        st.sampled_from(
            (
                ("Bad Key", "v"),
                ("k", "bad value"),
                ("k", "v" * 64),
                ("a/b/c", "v"),
                ("-k", "v"),
                ("example.com/" + "k" * 64, "v"),
                ("k", "v\n"),
                ("podpatterns.dev/x", "v"),
                ("k", ""),
                ("EXAMPLE.com/k", "v"),
            )
        )
    )
    field_name = draw(st.sampled_from(("labels", "annotations", "nodeSelector")))
    pod.setdefault(field_name, {})[key] = value
    return f"pod.{field_name}[{key!r}]={value!r}"


@mutation
def bad_volume_source(draw: Draw, example: Example) -> str:
    spec = example.pattern["spec"]
    entry = draw(
        st.sampled_from(
            (
                {"emptyDir": {}, "secret": {"secretName": "s"}},
                {},
                {"configMap": {"name": "c", "items": [{"key": "k", "path": "../x"}]}},
                {"configMap": {"name": "c", "items": [{"key": "k", "path": "/abs"}]}},
                {"configMap": {"name": "c", "defaultMode": 0o1000}},
                {"secret": {"secretName": "Bad_Name"}},
                {"claimTemplate": {"resources": {"requests": {"storage": "1Gi"}}}},
                {"hostPath": {"path": "/var/log"}},
                {"emptyDir": {"sizeLimit": "-1Gi"}},
                {"emptyDir": {"medium": "HugePages"}},
                {"ephemeral": {"accessModes": [], "resources": {"requests": {"storage": "1Gi"}}}},
                {"persistentVolumeClaim": {"claimName": "c", "readOnly": True}},
                {"ephemeral": {"resources": {"requests": {"storage": "0"}}}},
            )
        )
    )
    spec.setdefault("volumes", []).append(
        {"name": "odd", "mountPath": "/odd", **copy.deepcopy(entry)}
    )
    return f"volume source {entry!r}"


@mutation
def bad_volume_reference(draw: Draw, example: Example) -> str:
    spec = example.pattern["spec"]
    choice = draw(st.sampled_from(("containers", "readOnly", "mount", "loader", "loader-cm")))
    if choice in ("containers", "readOnly"):
        spec.setdefault("volumes", []).append(
            {"name": "ref", "mountPath": "/ref", "emptyDir": {}, choice: ["nobody"]}
        )
    elif choice == "mount":
        spec["main"].setdefault("volumeMounts", []).append({"name": "nowhere", "mountPath": "/n"})
    elif choice == "loader":
        spec.setdefault("initContainers", []).append(
            {
                "name": "loader",
                "preset": "data-loader",
                "dataLoader": {"image": "busybox:1.36", "volume": "nowhere"},
            }
        )
    else:
        spec.setdefault("volumes", []).append(
            {"name": "cmv", "mountPath": "/cmv", "configMap": {"name": "x"}}
        )
        spec.setdefault("initContainers", []).append(
            {
                "name": "loader",
                "preset": "data-loader",
                "dataLoader": {"image": "busybox:1.36", "volume": "cmv"},
            }
        )
    return f"volume reference {choice}"


@mutation
def clash(draw: Draw, example: Example) -> str:
    """Two parts that do not fit together: a name, a port, a path used twice."""
    spec = example.pattern["spec"]
    main = spec["main"]
    choice = draw(
        st.sampled_from(
            (
                "container-name",
                "volume-name",
                "port",
                "port-udp",
                "init-port",
                "mount-path",
                "logging-dir",
                "proxy-port",
                "port-name",
                "proxy-main-port",
                "native-init-port",
            )
        )
    )
    if choice == "container-name":
        spec.setdefault("sidecars", []).append(
            {"name": main.get("name", "main"), "image": "busybox:1.36"}
        )
    elif choice == "volume-name":
        spec.setdefault("volumes", []).extend(
            [
                {"name": "twin", "mountPath": "/t1", "emptyDir": {}},
                {"name": "twin", "mountPath": "/t2", "emptyDir": {}},
            ]
        )
    elif choice in ("port", "port-udp", "init-port", "native-init-port", "port-name"):
        main.setdefault("ports", []).append({"containerPort": 3999, "name": "shared"})
        other: Doc = {
            "name": "clasher",
            "image": "busybox:1.36",
            "ports": [{"containerPort": 3999 if choice != "port-name" else 3998, "name": "shared"}],
        }
        if choice == "port-udp":
            other["ports"][0]["protocol"] = "UDP"
        if choice == "port-name":
            main["ports"].append({"containerPort": 3997, "name": "shared"})
            other = {}
        key = "initContainers" if choice in ("init-port", "native-init-port") else "sidecars"
        if other:
            spec.setdefault(key, []).append(other)
        if choice == "native-init-port":
            spec.setdefault("sidecars", []).append(
                {"name": "nat", "image": "busybox:1.36", "ports": [{"containerPort": 3996}]}
            )
            other["ports"][0]["containerPort"] = 3996
    elif choice == "mount-path":
        spec.setdefault("volumes", []).extend(
            [
                {"name": "m1", "mountPath": "/same", "emptyDir": {}},
                {
                    "name": "m2",
                    "mountPath": draw(st.sampled_from(("/same", "/same/", "//same"))),
                    "emptyDir": {},
                },
            ]
        )
    elif choice == "logging-dir":
        spec.setdefault("volumes", []).append(
            {"name": "logs", "mountPath": "/var/log/x", "emptyDir": {}}
        )
        spec.setdefault("sidecars", []).append(
            {
                "name": "logger",
                "preset": "logging",
                "logging": {
                    "dir": draw(st.sampled_from(("/var/log/x", "/var/..", "/", "/var/log/x/")))
                },
            }
        )
    elif choice == "proxy-port":
        main.setdefault("ports", []).append({"containerPort": 8080})
        spec.setdefault("sidecars", []).append({"name": "edge", "preset": "proxy"})
    elif choice == "proxy-main-port":
        main.setdefault("ports", []).append({"containerPort": 3999})
        spec.setdefault("sidecars", []).append(
            {"name": "edge", "preset": "proxy", "proxy": {"port": 3999}}
        )
    return f"clash {choice}"


@mutation
def preset_merge(draw: Draw, example: Example) -> str:
    """A sidecar entry whose container fields clash with what its preset brings."""
    spec = example.pattern["spec"]
    spec["main"].setdefault("ports", [{"containerPort": 3000}])
    choice = draw(
        st.sampled_from(
            ("port-name", "requests", "config-mount", "image", "env", "limits-low", "mount-tmp")
        )
    )
    sidecar: Doc = {"name": "merged", "preset": draw(st.sampled_from(("logging", "proxy")))}
    if choice == "port-name":
        sidecar["ports"] = [
            {
                "containerPort": 3990,
                "name": "http" if sidecar["preset"] == "proxy" else "log-health",
            }
        ]
    elif choice == "requests":
        sidecar["resources"] = {"requests": {"memory": "4Gi", "cpu": "4"}}
    elif choice == "limits-low":
        sidecar["resources"] = {"limits": {"memory": "1Mi", "cpu": "1m"}}
    elif choice == "config-mount":
        spec.setdefault("volumes", []).append(
            {"name": "own-conf", "mountPath": "/own", "emptyDir": {}, "containers": ["merged"]}
        )
        conf = "/etc/nginx/conf.d" if sidecar["preset"] == "proxy" else "/etc/podpatterns"
        sidecar["volumeMounts"] = [{"name": "own-conf", "mountPath": conf}]
    elif choice == "mount-tmp":
        spec.setdefault("volumes", []).append(
            {"name": "own-tmp", "mountPath": "/tmp", "emptyDir": {}}
        )
    elif choice == "image":
        sidecar["image"] = "busybox:1.36"
    else:
        sidecar["env"] = [{"name": "GOMAXPROCS", "value": "1"}]
    spec.setdefault("sidecars", []).append(sidecar)
    return f"preset merge {choice} ({sidecar['preset']})"


@mutation
def logging_paths(draw: Draw, example: Example) -> str:
    value = draw(
        st.sampled_from(
            (
                "a.log\n[OUTPUT]\n    Name stdout",
                "*.log\n",
                "../x.log",
                "/abs.log",
                "a b.log",
                "x.log'",
                'x"y.log',
                "${HOME}.log",
                "a\\b.log",
                "a,b.log",
                "*.log # c",
                "",
            )
        )
    )
    agent = draw(st.sampled_from(AGENTS))
    example.pattern["spec"].setdefault("sidecars", []).append(
        {
            "name": "shipper",
            "preset": "logging",
            "logging": {"agent": agent, "dir": "/var/log/ship", "paths": [value]},
        }
    )
    return f"logging.paths={value!r} ({agent})"


@mutation
def logging_output(draw: Draw, example: Example) -> str:
    output = draw(
        st.sampled_from(
            (
                {"type": "otlp", "endpoint": "host:99999"},
                {"type": "otlp", "endpoint": "user:pw@host:4317"},
                {"type": "http", "endpoint": "ftp://x"},
                {"type": "http", "endpoint": "http://x y"},
                {"type": "forward", "endpoint": "f:24224"},
                {"type": "stdout", "endpoint": "x:1"},
                {"type": "otlp"},
                {"type": "otlp", "endpoint": "host:4317\n"},
            )
        )
    )
    example.pattern["spec"].setdefault("sidecars", []).append(
        {
            "name": "shipout",
            "preset": "logging",
            "logging": {
                "agent": draw(st.sampled_from(AGENTS)),
                "dir": "/var/log/out",
                "output": dict(output),
            },
        }
    )
    return f"logging.output={output!r}"


@mutation
def workload_shape(draw: Draw, example: Example) -> str:
    spec = example.pattern["spec"]
    choice = draw(
        st.sampled_from(
            (
                ({"kind": "DaemonSet", "replicas": 2}),
                ({"kind": "StatefulSet", "rollout": {"maxUnavailable": 0}}),
                ({"kind": "Deployment", "rollout": {"maxUnavailable": 0, "maxSurge": 0}}),
                ({"kind": "Deployment", "rollout": {"maxSurge": "101%"}}),
                ({"kind": "Deployment", "rollout": {"maxUnavailable": "150%"}}),
                ({"kind": "DaemonSet", "rollout": {"maxSurge": 1}}),
                ({"kind": "Job", "job": {"completions": -1}}),
                ({"kind": "Job", "job": {"activeDeadlineSeconds": 0}}),
                ({"kind": "Job", "job": {"parallelism": 0, "completions": 0}}),
                ({"kind": "Job", "rollout": {"maxUnavailable": 1}}),
                ({"kind": "Pod", "cron": {"schedule": "@hourly"}}),
                ({"kind": "CronJob"}),
                ({"kind": "Job", "job": {"backoffLimit": 2**31}}),
                ({"kind": "Pod", "replicas": 1000000000}),
                ({"kind": "Deployment", "rollout": {"maxUnavailable": "25"}}),
            )
        )
    )
    spec["workload"] = copy.deepcopy(choice)
    if choice["kind"] != "StatefulSet":
        spec["volumes"] = [v for v in spec.get("volumes") or [] if "claimTemplate" not in v]
    return f"workload {choice!r}"


@mutation
def pod_shape(draw: Draw, example: Example) -> str:
    pod = example.pattern["spec"].setdefault("pod", {})
    key, value = draw(
        st.sampled_from(
            (
                ("dnsPolicy", "None"),
                ("dnsConfig", {"nameservers": ["not-an-ip"]}),
                ("dnsConfig", {"nameservers": ["1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4"]}),
                ("hostAliases", [{"ip": "x", "hostnames": ["a"]}]),
                ("hostAliases", [{"ip": "10.0.0.1", "hostnames": ["Bad_Host"]}]),
                ("terminationGracePeriodSeconds", -1),
                ("serviceAccountName", "Bad_Name"),
                ("priorityClassName", "Bad_Name"),
                ("runtimeClassName", "Bad_Name"),
                ("hostNetwork", True),
                ("hostPID", False),
                ("securityContext", {"sysctls": [{"name": "bad sysctl", "value": "1"}]}),
                ("securityContext", {"supplementalGroups": [-1]}),
                ("securityContext", {"fsGroup": 2**31}),
                (
                    "affinity",
                    {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}},
                ),
                ("affinity", {"podAffinity": {"foo": 1}}),
                (
                    "topologySpreadConstraints",
                    [{"maxSkew": 0, "topologyKey": "k", "whenUnsatisfiable": "DoNotSchedule"}],
                ),
                ("imagePullSecrets", [{"name": ""}]),
                ("nodeSelector", {"k": "v" * 64}),
            )
        )
    )
    pod[key] = copy.deepcopy(value)
    return f"pod.{key}={value!r}"


@mutation
def service_shape(draw: Draw, example: Example) -> str:
    spec = example.pattern["spec"]
    service = draw(
        st.sampled_from(
            (
                {"port": 0},
                {"port": 65536},
                {"type": "ExternalName"},
                {"annotations": {"Bad Key": "v"}},
                {},
                {"type": "NodePort", "port": 30000},
            )
        )
    )
    spec["service"] = dict(service)
    return f"service {service!r}"


@mutation
def gpu_without_request(draw: Draw, example: Example) -> str:
    spec = example.pattern["spec"]
    spec["main"].pop("resources", None)
    spec.setdefault("sidecars", []).append({"name": "gpumon", "preset": "gpu-monitor"})
    return "gpu-monitor without a GPU request"


@mutation
def profile_grant_abuse(draw: Draw, example: Example) -> str:
    """Privileges a PodPattern asks for itself, or a profile grants wrongly."""
    spec = example.pattern["spec"]
    choice = draw(
        st.sampled_from(
            (
                "privileged-main",
                "caps-sidecar",
                "profile-privileged",
                "profile-caps",
                "profile-hostpath",
                "override-image",
            )
        )
    )
    if choice == "privileged-main":
        spec["main"].setdefault("securityContext", {})["privileged"] = True
    elif choice == "caps-sidecar":
        spec.setdefault("sidecars", []).append(
            {
                "name": "capper",
                "image": "busybox:1.36",
                "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
            }
        )
    else:
        spec_p: Doc = {"container": {"image": "busybox:1.36"}}
        if choice == "profile-privileged":
            spec_p["container"]["securityContext"] = {"privileged": True}
        elif choice == "profile-caps":
            spec_p["container"]["securityContext"] = {"capabilities": {"add": ["SYS_ADMIN"]}}
            spec_p["allow"] = {"capabilities": ["NET_ADMIN"]}
        elif choice == "profile-hostpath":
            spec_p["volumes"] = [{"name": "h", "mountPath": "/h", "hostPath": {"path": "/"}}]
        else:
            spec_p["allow"] = {"privileged": True}
            spec_p["container"]["securityContext"] = {"privileged": True}
        example.profiles.append(
            {
                "apiVersion": API_VERSION,
                "kind": "SidecarProfile",
                "metadata": {"name": "diff-abused"},
                "spec": spec_p,
            }
        )
        entry: Doc = {"name": "abuser", "profile": "diff-abused"}
        if choice == "override-image":
            entry["image"] = "evil:1.0"
        spec.setdefault("sidecars", []).append(entry)
    return f"privilege {choice}"


@mutation
def scheduling(draw: Draw, example: Example) -> str:
    """Affinity and topology spread values, which only the Pod's validation checks."""
    pod = example.pattern["spec"].setdefault("pod", {})
    requirement = draw(
        st.sampled_from(
            (
                {"key": "zone", "operator": "Gt", "values": ["5"]},
                {"key": "zone", "operator": "Gt", "values": ["a"]},
                {"key": "zone", "operator": "Exists"},
                {"key": "zone", "operator": "Exists", "values": ["a"]},
                {"key": "zone", "operator": "In", "values": []},
                {"key": "Zone\n", "operator": "In", "values": ["a"]},
                {"key": "zone", "operator": "in", "values": ["a"]},
            )
        )
    )
    choice = draw(st.sampled_from(("node", "pod", "anti", "spread")))
    if choice == "node":
        weight = draw(st.sampled_from((1, 100, 0, 101)))
        pod["affinity"] = {
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": weight, "preference": {"matchExpressions": [requirement]}}
                ]
            }
        }
        return f"node affinity weight {weight} {requirement!r}"
    if choice in ("pod", "anti"):
        labels = {k: v for k, v in requirement.items() if k != "operator" or v != "Gt"}
        term = {
            "topologyKey": draw(st.sampled_from(("kubernetes.io/hostname", "", "a b"))),
            "labelSelector": {"matchExpressions": [labels]},
        }
        kind = "podAffinity" if choice == "pod" else "podAntiAffinity"
        pod["affinity"] = {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
        return f"{kind} {term!r}"
    constraint = {
        "maxSkew": draw(st.sampled_from((1, 2, 0))),
        "topologyKey": draw(st.sampled_from(("kubernetes.io/hostname", "zone", ""))),
        "whenUnsatisfiable": draw(st.sampled_from(("DoNotSchedule", "ScheduleAnyway", "Never"))),
    }
    if draw(st.booleans()):
        constraint["minDomains"] = draw(st.sampled_from((1, 2, 0)))
    if draw(st.booleans()):
        constraint["nodeTaintsPolicy"] = draw(st.sampled_from(("Honor", "Ignore", "honor")))
    count = draw(st.sampled_from((1, 1, 2)))
    pod["topologySpreadConstraints"] = [dict(constraint) for _ in range(count)]
    return f"{count} x topologySpreadConstraint {constraint!r}"


@mutation
def probe_values(draw: Draw, example: Example) -> str:
    entry = draw(
        st.sampled_from(
            _containers(example)[:1]
            + [c for c in _containers(example) if "image" in c and "preset" not in c]
        )
    )
    kind = draw(st.sampled_from(("readinessProbe", "livenessProbe", "startupProbe", "lifecycle")))
    if kind == "lifecycle":
        value: Doc = {
            "preStop": draw(
                st.sampled_from(
                    (
                        {"sleep": {"seconds": 5}},
                        {"sleep": {"seconds": -1}},
                        {"sleep": {"seconds": 100}},
                        {"httpGet": {"port": 0}},
                        {"exec": {"command": []}},
                    )
                )
            )
        }
    else:
        value = dict(
            draw(
                st.sampled_from(
                    (
                        {"httpGet": {"port": 0}},
                        {"httpGet": {"port": "a--b"}},
                        {"httpGet": {"port": "http"}},
                        {"tcpSocket": {"port": 65536}},
                        {"grpc": {"port": 9000}},
                        {"exec": {"command": ["true"]}, "periodSeconds": 0},
                        {"exec": {"command": ["true"]}, "successThreshold": 2},
                        {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}},
                        {"exec": {"command": ["true"]}, "terminationGracePeriodSeconds": 0},
                        {},
                    )
                )
            )
        )
    entry[kind] = value
    return f"{kind}={value!r}"


@mutation
def profile_missing(draw: Draw, example: Example) -> str:
    example.pattern["spec"].setdefault("sidecars", []).append(
        {"name": "absent", "profile": "diff-not-in-the-file"}
    )
    return "a profile the file does not define"


# Mutations that do not depend on the base: they reach every field kind the models have.


def _leaf_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            paths.append((*prefix, key))
            paths.extend(_leaf_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths.append((*prefix, index))
            paths.extend(_leaf_paths(item, (*prefix, index)))
    return paths


def _hostile_for(value: Any) -> tuple[Any, ...]:
    if isinstance(value, bool):
        return ("true", 1, None)
    if isinstance(value, int):
        return (-1, 0, 2**31, 2**63, str(value), float(value) + 0.5, None)
    if isinstance(value, str):
        return (value + "\n", value.upper(), "", value * 40, value + " ", 5, None, [value])
    if isinstance(value, list):
        return (None, {}, "x", [])
    if isinstance(value, dict):
        return (None, [], "x", {**value, "unknownField": 1})
    return (None,)


@mutation
def any_field(draw: Draw, example: Example) -> str | None:
    """Any field of the document, replaced by a hostile value of its kind."""
    target = draw(st.sampled_from(("pattern", "pattern", "pattern", "profile")))
    document = example.pattern
    if target == "profile" and example.profiles:
        document = draw(st.sampled_from(example.profiles))
    paths = [p for p in _leaf_paths(document.get("spec")) if p]
    if not paths:
        return None
    path = draw(st.sampled_from(paths))
    parent: Any = document["spec"]
    for part in path[:-1]:
        parent = parent[part]
    value = draw(st.sampled_from(_hostile_for(parent[path[-1]])))
    parent[path[-1]] = copy.deepcopy(value)
    where = "spec" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    return f"{where}={value!r}"[:200]


# Weights: how often each mutation is drawn, relative to the others.
WEIGHTS = {name: 1 for name in MUTATIONS}
WEIGHTS.update({"any_field": 6, "clash": 2, "preset_merge": 2, "bad_quantity": 2, "huge": 0})
# A 1.6 MB request per example costs as much as a hundred others: drawn rarely, on purpose.
_RARE = ("huge",)


@st.composite
def examples(draw: Draw) -> Example:
    """A PodPattern with its profiles: valid, or one or two mutations away from it."""
    example = draw(base())
    count = draw(st.sampled_from((0, 0, 1, 1, 1, 2)))
    names = [name for name, weight in WEIGHTS.items() for _ in range(weight)]
    for _ in range(count):
        # Hypothesis favours the ends of a range: a value in the middle is rare indeed.
        if draw(st.integers(0, 199)) == 101:
            name = draw(st.sampled_from(_RARE))
        else:
            name = draw(st.sampled_from(names))
        if example.pattern.get("kind") == "List":
            break
        # On a copy: a first mutation may have left no place for the second (a null spec).
        trial = copy.deepcopy(example)
        try:
            described = MUTATIONS[name](draw, trial)
        except (AttributeError, KeyError, IndexError, TypeError):
            continue
        if described is not None:
            trial.mutations.append(f"{name}: {described}")
            example = trial
    return example


__all__ = [
    "MUTATIONS",
    "Example",
    "aliases",
    "base",
    "bounds",
    "choices",
    "examples",
]

# Field sets the strategies rely on; a renamed field fails here rather than generating
# inputs that silently miss it.
for _model, _fields in (
    (MainContainer, ("ports", "env", "resources", "securityContext", "volumeMounts")),
    (Sidecar, ("preset", "profile", "logging", "proxy", "gpuMonitor")),
    (PodSettings, ("tolerations", "securityContext", "dnsConfig", "hostAliases")),
    (EnvVar, ("name", "value", "valueFrom")),
    (SecurityContext, ("appArmorProfile", "seLinuxOptions", "seccompProfile")),
    (ProxySettings, ("port", "targetPort", "tls")),
):
    _missing = set(_fields) - set(aliases(_model))
    assert not _missing, (_model.__name__, _missing)
