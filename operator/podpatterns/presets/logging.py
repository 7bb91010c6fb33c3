"""The logging preset: a log shipper that tails the files the main container writes.

The main container writes into `logging.dir`, a shared emptyDir it mounts read-write; the
shipper mounts it read-only, tails `logging.paths` and ships the records to
`logging.output`. OpenTelemetry Collector (contrib distribution) is the default agent,
Fluent Bit the alternative; each gets a generated configuration in a ConfigMap.
"""

from __future__ import annotations

from typing import Any

import yaml

from podpatterns.api.endpoints import Endpoint, parse_endpoint
from podpatterns.api.preset_text import config_value_problem, folder_problem
from podpatterns.api.v1alpha1 import LoggingSettings
from podpatterns.presets.common import (
    CONFIG_ROOT,
    PresetContext,
    field_env,
    restricted_security_context,
)
from podpatterns.render import RenderError, ResolvedContainer

# The configuration below targets these releases: 0.165.0 names its components file_log,
# otlp_grpc and otlp_http (the old names filelog, otlp and otlphttp are deprecated aliases).
OTEL_COLLECTOR_VERSION = "0.165.0"
OTEL_COLLECTOR_IMAGE = f"otel/opentelemetry-collector-contrib:{OTEL_COLLECTOR_VERSION}"
# The Go modules of the components the generated configuration uses, kind → modules: what
# a collector built with the OpenTelemetry Collector Builder needs to run it (an image
# override must contain at least these). The otlp receiver is not used by the preset; it
# lets the same build serve as the collector the preset ships to.
_CORE = "go.opentelemetry.io/collector"
_CONTRIB = "github.com/open-telemetry/opentelemetry-collector-contrib"
OTEL_COMPONENT_MODULES: dict[str, tuple[str, ...]] = {
    "receivers": (f"{_CONTRIB}/receiver/filelogreceiver", f"{_CORE}/receiver/otlpreceiver"),
    "exporters": (
        f"{_CORE}/exporter/debugexporter",
        f"{_CORE}/exporter/otlpexporter",
        f"{_CORE}/exporter/otlphttpexporter",
    ),
    "extensions": (f"{_CONTRIB}/extension/healthcheckextension",),
}
FLUENT_BIT_IMAGE = "fluent/fluent-bit:5.1.1"

# The agents' usual health ports; the n-th logging sidecar of a Pod (from 0) uses port+n,
# since all containers of a Pod share one network namespace.
OTEL_HEALTH_PORT = 13133
FLUENT_BIT_HEALTH_PORT = 2020
FLUENT_BIT_HEALTH_PATH = "/api/v1/health"
# The contrib image runs as 10001; Fluent Bit's distroless image runs as root, so it gets
# "nobody". Both only read the log files, which a umask of 022 leaves world-readable.
OTEL_USER = 10001
FLUENT_BIT_USER = 65534

CONFIG_DIR = f"{CONFIG_ROOT}/logging"
OTEL_CONFIG_FILE = "config.yaml"
FLUENT_BIT_CONFIG_FILE = "fluent-bit.conf"
# Port names should be unique in a Pod (the API server warns otherwise, and a Service or
# probe naming the port would pick the first): prefixed with the preset, numbered from the
# second logging sidecar on.
HEALTH_PORT_NAME = "log-health"


def port_name(ctx: PresetContext) -> str:
    return HEALTH_PORT_NAME if ctx.instance == 0 else f"{HEALTH_PORT_NAME}-{ctx.instance}"


def health_port(ctx: PresetContext, settings: LoggingSettings) -> int:
    base = FLUENT_BIT_HEALTH_PORT if settings.agent == "fluent-bit" else OTEL_HEALTH_PORT
    return base + ctx.instance


def render_logging(ctx: PresetContext, settings: LoggingSettings) -> ResolvedContainer:
    _refuse_unsafe_text(ctx, settings)
    main = ctx.pattern.spec.main.name
    logs_volume = ctx.volume("logs")
    config_volume = ctx.volume("config")
    endpoint = _endpoint(ctx, settings)
    if settings.agent == "fluent-bit":
        container = _fluent_bit_container(ctx, health_port(ctx, settings))
        data = {FLUENT_BIT_CONFIG_FILE: fluent_bit_config(ctx, settings, endpoint)}
    else:
        container = _otel_container(ctx, health_port(ctx, settings))
        data = {OTEL_CONFIG_FILE: otel_collector_config(ctx, settings, endpoint)}
    container["volumeMounts"] = [
        {"name": logs_volume, "mountPath": settings.dir, "readOnly": True},
        {"name": config_volume, "mountPath": CONFIG_DIR, "readOnly": True},
    ]
    return ResolvedContainer(
        container=container,
        volumes=(
            # No sizeLimit: exceeding one evicts the whole Pod, a worse failure for an app
            # than a full log folder. Rotate the files in the app.
            {"name": logs_volume, "emptyDir": {}},
            {"name": config_volume, "configMap": {"name": ctx.config_map_name}},
        ),
        mounts={main: ({"name": logs_volume, "mountPath": settings.dir},)},
        config_maps={ctx.config_map_name: data},
    )


def _refuse_unsafe_text(ctx: PresetContext, settings: LoggingSettings) -> None:
    """Validation refuses these first; a caller that skipped it must still not get a
    configuration that a value rewrote (a line break in a path adds a Fluent Bit key)."""
    fluent_bit = settings.agent == "fluent-bit"
    endpoint = (settings.output.endpoint or "").strip()
    values = [
        ("dir", settings.dir, folder_problem(settings.dir) or config_value_problem(settings.dir)),
        *(
            (f"paths[{i}]", path, config_value_problem(path, list_separator=fluent_bit))
            for i, path in enumerate(settings.paths)
        ),
        ("output.endpoint", endpoint, config_value_problem(endpoint)),
    ]
    for field, value, problem in values:
        if problem:
            raise RenderError(
                f"{ctx.path}.logging.{field}",
                "InvalidSpec",
                f"sidecar {ctx.name!r}: logging.{field} {value!r} {problem}",
            )


def _endpoint(ctx: PresetContext, settings: LoggingSettings) -> Endpoint | None:
    output = settings.output
    if output.type == "stdout":
        return None
    try:
        return parse_endpoint(output.type, output.endpoint or "")
    except ValueError as error:
        # Validation reports this first; a caller that skipped it still gets the advice.
        raise RenderError(
            f"{ctx.path}.logging.output.endpoint",
            "InvalidSpec",
            f"sidecar {ctx.name!r}: logging.output.endpoint {error}",
        ) from None


def _identity_env() -> list[dict[str, Any]]:
    # The records name the Pod they come from: shipped off the node, they would otherwise
    # be anonymous.
    return [
        field_env("POD_NAME", "metadata.name"),
        field_env("POD_NAMESPACE", "metadata.namespace"),
    ]


def _resources() -> dict[str, Any]:
    return {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}


def _otel_container(ctx: PresetContext, port: int) -> dict[str, Any]:
    return {
        "name": ctx.name,
        "image": OTEL_COLLECTOR_IMAGE,
        "args": [f"--config={CONFIG_DIR}/{OTEL_CONFIG_FILE}"],
        "env": _identity_env(),
        "ports": [{"name": port_name(ctx), "containerPort": port, "protocol": "TCP"}],
        # Liveness only: a log shipper that is not ready yet must not take the app out of
        # its Service.
        "livenessProbe": {
            "httpGet": {"path": "/", "port": port},
            "initialDelaySeconds": 5,
            "periodSeconds": 10,
        },
        "resources": _resources(),
        "securityContext": restricted_security_context(OTEL_USER),
    }


def _fluent_bit_container(ctx: PresetContext, port: int) -> dict[str, Any]:
    return {
        "name": ctx.name,
        "image": FLUENT_BIT_IMAGE,
        "command": ["/fluent-bit/bin/fluent-bit"],
        "args": ["-c", f"{CONFIG_DIR}/{FLUENT_BIT_CONFIG_FILE}"],
        "env": _identity_env(),
        "ports": [{"name": port_name(ctx), "containerPort": port, "protocol": "TCP"}],
        "livenessProbe": {
            "httpGet": {"path": FLUENT_BIT_HEALTH_PATH, "port": port},
            "initialDelaySeconds": 5,
            "periodSeconds": 10,
        },
        "resources": _resources(),
        "securityContext": restricted_security_context(FLUENT_BIT_USER),
    }


def include_paths(settings: LoggingSettings) -> list[str]:
    """The absolute globs to tail: each of `paths` inside `dir` (validation keeps them
    relative and inside it)."""
    base = settings.dir.rstrip("/")
    return [f"{base}/{path.removeprefix('./')}" for path in settings.paths]


def otel_collector_config(
    ctx: PresetContext, settings: LoggingSettings, endpoint: Endpoint | None
) -> str:
    """The collector's config.yaml: file_log → one exporter, with the health_check
    extension for the probe and the collector's own metrics off (they would bind 8888
    in the Pod's shared network namespace)."""
    output = settings.output
    exporter_id: str
    exporter: dict[str, Any]
    if endpoint is None:
        # detailed prints each record's body, so `kubectl logs` shows the lines themselves.
        exporter_id, exporter = "debug", {"verbosity": "detailed"}
    elif output.type == "otlp":
        exporter_id, exporter = "otlp_grpc", {"endpoint": endpoint.address}
        if not endpoint.tls:
            exporter["tls"] = {"insecure": True}
    else:  # http: OTLP over HTTP; forward is refused for this agent by validation
        if output.type != "http":
            raise RenderError(
                f"{ctx.path}.logging.output.type",
                "InvalidSpec",
                f"sidecar {ctx.name!r}: OpenTelemetry Collector cannot send the Fluentd "
                "forward protocol: set logging.agent: fluent-bit, or output type otlp or http",
            )
        exporter_id, exporter = "otlp_http", {"endpoint": endpoint.url}
    config: dict[str, Any] = {
        "extensions": {"health_check": {"endpoint": f"0.0.0.0:{health_port(ctx, settings)}"}},
        "receivers": {
            "file_log": {
                "include": include_paths(settings),
                # A sidecar may start after the app wrote its first lines (Legacy mode):
                # read files from their start rather than lose those lines.
                "start_at": "beginning",
                "resource": {
                    "k8s.pod.name": "${env:POD_NAME}",
                    "k8s.namespace.name": "${env:POD_NAMESPACE}",
                    "k8s.container.name": ctx.pattern.spec.main.name,
                },
            }
        },
        "exporters": {exporter_id: exporter},
        "service": {
            "extensions": ["health_check"],
            "telemetry": {"metrics": {"level": "none"}},
            "pipelines": {"logs": {"receivers": ["file_log"], "exporters": [exporter_id]}},
        },
    }
    return ctx.header() + yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def fluent_bit_config(
    ctx: PresetContext, settings: LoggingSettings, endpoint: Endpoint | None
) -> str:
    """Fluent Bit's classic configuration: tail → record_modifier (the Pod's identity) →
    one output, with the HTTP server's health check for the probe."""
    sections: list[tuple[str, list[tuple[str, str]]]] = [
        (
            "SERVICE",
            [
                ("Flush", "1"),
                ("Log_Level", "info"),
                ("HTTP_Server", "On"),
                ("HTTP_Listen", "0.0.0.0"),
                ("HTTP_Port", str(health_port(ctx, settings))),
                ("Health_Check", "On"),
            ],
        ),
        (
            "INPUT",
            [
                ("Name", "tail"),
                ("Tag", "app"),
                ("Path", ",".join(include_paths(settings))),
                ("Read_from_Head", "On"),
                ("Refresh_Interval", "5"),
                ("Skip_Long_Lines", "On"),
            ],
        ),
        (
            "FILTER",
            [
                ("Name", "record_modifier"),
                ("Match", "*"),
                ("Record", "k8s.pod.name ${POD_NAME}"),
                ("Record", "k8s.namespace.name ${POD_NAMESPACE}"),
                ("Record", f"k8s.container.name {ctx.pattern.spec.main.name}"),
            ],
        ),
        (
            "OUTPUT",
            [
                ("Name", _fluent_bit_output_name(settings)),
                ("Match", "*"),
                *_fluent_bit_output(settings, endpoint),
            ],
        ),
    ]
    lines = [ctx.header().rstrip("\n")]
    for title, entries in sections:
        lines.append("")
        lines.append(f"[{title}]")
        width = max(len(key) for key, _ in entries)
        lines.extend(f"    {key.ljust(width)} {value}" for key, value in entries)
    return "\n".join(lines) + "\n"


def _fluent_bit_output_name(settings: LoggingSettings) -> str:
    return {"stdout": "stdout", "forward": "forward"}.get(settings.output.type, "opentelemetry")


def _fluent_bit_output(
    settings: LoggingSettings, endpoint: Endpoint | None
) -> list[tuple[str, str]]:
    if endpoint is None:
        return [("Format", "json_lines")]
    address = [("Host", endpoint.host.strip("[]")), ("Port", str(endpoint.port))]
    if settings.output.type == "forward":
        return address
    tls = [("Tls", "On" if endpoint.tls else "Off")]
    # The tail input keeps each line under "log": that is the record's body in OTLP.
    body = [("Logs_body_key", "$log")]
    if settings.output.type == "otlp":
        return [*address, ("Grpc", "On"), *tls, *body]
    return [*address, ("Logs_uri", f"{endpoint.path}/v1/logs"), *tls, *body]
