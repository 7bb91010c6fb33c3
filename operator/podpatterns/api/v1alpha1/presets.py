"""Settings blocks of the presets: the sidecars and init containers the operator wires up.

Only the shape lives here, so that the CRD accepts the settings and `check` can reason
about them; what each preset renders into is the business of the preset modules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from podpatterns.api.v1alpha1.base import (
    AbsolutePath,
    DnsLabel,
    Rule,
    SpecModel,
    has,
    list_atomic,
)

SidecarPreset = Literal["logging", "proxy", "gpu-monitor"]
InitPreset = Literal["data-loader"]

SIDECAR_PRESETS: tuple[str, ...] = ("logging", "proxy", "gpu-monitor")
# The settings block that belongs to each preset, by its YAML name.
SETTINGS_FIELD = {"logging": "logging", "proxy": "proxy", "gpu-monitor": "gpuMonitor"}

DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


class LoggingOutput(SpecModel):
    """Where the logging sidecar ships what it reads."""

    type: Literal["stdout", "otlp", "forward", "http"] = Field(
        default="stdout",
        description="stdout (default) prints the records to the sidecar's own log; otlp, "
        "forward (Fluentd forward protocol) and http send them to `endpoint`.",
    )
    endpoint: str | None = Field(
        default=None,
        min_length=1,
        description="host:port or URL to send to; required for otlp, forward and http.",
    )

    cel_rules = (
        Rule(
            cel="!has(self.type) || self.type == 'stdout' || has(self.endpoint)",
            holds=lambda m: m.type == "stdout" or has(m, "endpoint"),
            message="logging.output.endpoint is required for output types otlp, forward and "
            "http: set it to the collector's host:port or URL",
            field="endpoint",
            cel_reason="FieldValueRequired",
        ),
        Rule(
            cel="(has(self.type) && self.type != 'stdout') || !has(self.endpoint)",
            holds=lambda m: m.type != "stdout" or not has(m, "endpoint"),
            message="logging.output.endpoint does not apply to output type stdout: remove it, "
            "or set type to otlp, forward or http",
            field="endpoint",
            cel_reason="FieldValueForbidden",
        ),
    )


class LoggingSettings(SpecModel):
    """Settings of the logging preset: a log shipper that tails files of the main container."""

    agent: Literal["opentelemetry-collector", "fluent-bit"] = Field(
        default="opentelemetry-collector",
        description="The shipper to run: opentelemetry-collector (the contrib "
        "distribution, default) or fluent-bit.",
    )
    dir: AbsolutePath = Field(
        default="/var/log/app",
        description="Directory the main container writes its log files to; it becomes a "
        "shared emptyDir, read-write in the main container and read-only in the sidecar. "
        "Default /var/log/app.",
    )
    paths: list[str] = Field(
        default_factory=lambda: ["*.log"],
        min_length=1,
        description="Glob patterns of the files to tail, relative to `dir`. Default *.log.",
        json_schema_extra=list_atomic(),
    )
    output: LoggingOutput = Field(
        default_factory=LoggingOutput,
        description="Where to ship the records. Default: the sidecar's stdout.",
    )


class ProxyTls(SpecModel):
    """TLS termination at the proxy."""

    secret_name: str = Field(
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="A kubernetes.io/tls Secret in the PodPattern's namespace holding the "
        "certificate and key the proxy serves.",
    )


class ProxySettings(SpecModel):
    """Settings of the proxy preset: a local reverse proxy in front of the main container."""

    port: int = Field(
        default=8080, ge=1, le=65535, description="Port the proxy listens on. Default 8080."
    )
    target_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port of the main container on 127.0.0.1 the proxy forwards to. "
        "Default: the main container's first port.",
    )
    tls: ProxyTls | None = Field(
        default=None, description="Terminate TLS at the proxy with this Secret's certificate."
    )


class GpuMonitorSettings(SpecModel):
    """Settings of the gpu-monitor preset: a GPU metrics exporter beside a GPU workload."""

    port: int = Field(
        default=9400, ge=1, le=65535, description="Port serving Prometheus metrics. Default 9400."
    )


class DataLoaderSettings(SpecModel):
    """Settings of the data-loader preset: an init container that fills a shared volume."""

    image: str = Field(
        min_length=1, description="Image that fetches the data; pin it to a version."
    )
    command: list[str] | None = Field(
        default=None, description="Entrypoint of the loader.", json_schema_extra=list_atomic()
    )
    args: list[str] | None = Field(
        default=None, description="Arguments of the loader.", json_schema_extra=list_atomic()
    )
    volume: DnsLabel = Field(
        description="Name of the entry in spec.volumes the loader fills; it is mounted "
        "read-write in the loader."
    )


def _settings_match(field: str, preset: str) -> Callable[[Any], bool]:
    def holds(model: Any) -> bool:
        return not has(model, field) or bool(model.preset == preset)

    return holds


def settings_rules(kind: str) -> tuple[Rule, ...]:
    """Rules tying each preset settings block to its preset, for `kind` ("sidecar" or
    "SidecarProfile")."""
    return tuple(
        Rule(
            cel=f"!has(self.{block}) || (has(self.preset) && self.preset == '{preset}')",
            holds=_settings_match("gpu_monitor" if block == "gpuMonitor" else block, preset),
            message=f"{block} settings apply only to a {kind} with preset: {preset}; set "
            f"preset: {preset} or remove {block}",
            field=block,
            cel_reason="FieldValueForbidden",
        )
        for preset, block in SETTINGS_FIELD.items()
    )
