"""The gpu-monitor preset: NVIDIA's DCGM exporter beside a GPU workload.

How it sees the GPUs (docs/presets.md has the research): the NVIDIA device plugin gives a
GPU only to the container that requests `nvidia.com/gpu`, and a second request would
allocate a second GPU. So the exporter asks for no device at all. It reads the metrics
from the node's DCGM host engine (nv-hostengine, which the GPU Operator runs as the
`nvidia-dcgm` DaemonSet behind a Service with `internalTrafficPolicy: Local`, so every
Pod reaches the one on its own node) over the network: no hostPath, no capabilities, no
privileged container, and the Pod passes the `restricted` Pod Security Standard. Mapping
each GPU to the Pod using it needs the kubelet's pod-resources socket, a hostPath: only a
SidecarProfile that allows it can add that.
"""

from __future__ import annotations

from typing import Any

from podpatterns.api.v1alpha1 import GpuMonitorSettings
from podpatterns.presets.common import PresetContext, field_env, restricted_security_context
from podpatterns.render import ResolvedContainer

DCGM_EXPORTER_IMAGE = "nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless"
# The GPU Operator's DCGM host engine Service, in its default namespace.
HOSTENGINE = "nvidia-dcgm.gpu-operator.svc:5555"
GPU_RESOURCE = "nvidia.com/gpu"
# The image runs as root; in remote host-engine mode it needs no privilege at all.
EXPORTER_USER = 65534
METRICS_PATH = "/metrics"
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}


def render_gpu_monitor(ctx: PresetContext, settings: GpuMonitorSettings) -> ResolvedContainer:
    port = settings.port
    port_name = "gpu-metrics" if ctx.instance == 0 else f"gpu-metrics-{ctx.instance}"
    container: dict[str, Any] = {
        "name": ctx.name,
        "image": DCGM_EXPORTER_IMAGE,
        "env": [
            {"name": "DCGM_EXPORTER_LISTEN", "value": f":{port}"},
            {"name": "DCGM_REMOTE_HOSTENGINE_INFO", "value": HOSTENGINE},
            # The image sets NVIDIA_VISIBLE_DEVICES=all. A runtime that honours it in an
            # unprivileged container would hand this sidecar every GPU of the node,
            # bypassing the device plugin; "void" asks for none.
            {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"},
            # The metrics' Hostname label: the node, not the Pod.
            field_env("NODE_NAME", "spec.nodeName"),
        ],
        # Prefixed: "metrics" is a common name for the application's own port.
        "ports": [{"name": port_name, "containerPort": port, "protocol": "TCP"}],
        "livenessProbe": {
            "httpGet": {"path": "/health", "port": port},
            "initialDelaySeconds": 10,
            "periodSeconds": 15,
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "512Mi"},
        },
        "securityContext": restricted_security_context(EXPORTER_USER),
    }
    return ResolvedContainer(
        container=container,
        tolerations=(dict(GPU_TOLERATION),),
        annotations={
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port),
            "prometheus.io/path": METRICS_PATH,
        },
    )
