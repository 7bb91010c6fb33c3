"""The gpu-monitor preset: NVIDIA's DCGM exporter reading the node's host engine.

The exporter cannot run here (no GPU, no registry): its settings are checked against the
environment variables dcgm-exporter 4.8.2 documents for its flags (pkg/cmd/app.go).
"""

from __future__ import annotations

from typing import Any

from podpatterns.presets.gpu_monitor import DCGM_EXPORTER_IMAGE, GPU_TOLERATION, HOSTENGINE
from tests.unit.presets_support import containers, errors_by_path, pattern, profile, render

DCGM_EXPORTER_ENV = {
    "DCGM_EXPORTER_COLLECTORS",
    "DCGM_EXPORTER_LISTEN",
    "DCGM_EXPORTER_INTERVAL",
    "DCGM_EXPORTER_KUBERNETES",
    "DCGM_REMOTE_HOSTENGINE_INFO",
    "DCGM_EXPORTER_KUBERNETES_GPU_ID_TYPE",
    "DCGM_EXPORTER_DEVICES_STR",
    "DCGM_EXPORTER_NO_HOSTNAME",
    "DCGM_POD_RESOURCES_KUBELET_SOCKET",
    # Read by the exporter for its Hostname label, and by NVIDIA's container runtime.
    "NODE_NAME",
    "NVIDIA_VISIBLE_DEVICES",
}

GPU_MAIN: dict[str, Any] = {
    "name": "server",
    "image": "ghcr.io/example/inference:2.3.0",
    "ports": [{"containerPort": 8000}],
    "resources": {"limits": {"nvidia.com/gpu": 1}},
}


def test_defaults() -> None:
    rendered = render(pattern(main=GPU_MAIN, sidecars=[{"name": "gpu", "preset": "gpu-monitor"}]))
    gpu = containers(rendered)["gpu"]
    assert gpu["image"] == DCGM_EXPORTER_IMAGE
    env = {item["name"]: item.get("value") for item in gpu["env"]}
    assert set(env) <= DCGM_EXPORTER_ENV
    assert env["DCGM_EXPORTER_LISTEN"] == ":9400"
    assert env["DCGM_REMOTE_HOSTENGINE_INFO"] == HOSTENGINE
    # No GPU for the exporter itself, whatever the runtime does with the variable.
    assert env["NVIDIA_VISIBLE_DEVICES"] == "void"
    assert "nvidia.com/gpu" not in str(gpu.get("resources"))
    assert gpu["ports"] == [{"name": "gpu-metrics", "containerPort": 9400, "protocol": "TCP"}]
    assert gpu["livenessProbe"]["httpGet"] == {"path": "/health", "port": 9400}
    assert "volumeMounts" not in gpu, "the default needs no host access"
    assert rendered.template.spec["tolerations"] == [GPU_TOLERATION]
    assert rendered.template.metadata["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9400",
        "prometheus.io/path": "/metrics",
    }


def test_port_setting_moves_listener_probe_and_annotation() -> None:
    entry = {"name": "gpu", "preset": "gpu-monitor", "gpuMonitor": {"port": 9500}}
    rendered = render(pattern(main=GPU_MAIN, sidecars=[entry]))
    gpu = containers(rendered)["gpu"]
    assert {"name": "DCGM_EXPORTER_LISTEN", "value": ":9500"} in gpu["env"]
    assert gpu["livenessProbe"]["httpGet"]["port"] == 9500
    assert rendered.template.metadata["annotations"]["prometheus.io/port"] == "9500"


def test_the_users_annotations_and_tolerations_win_and_are_not_repeated() -> None:
    rendered = render(
        pattern(
            main=GPU_MAIN,
            sidecars=[{"name": "gpu", "preset": "gpu-monitor"}],
            pod={
                "annotations": {"prometheus.io/port": "8000"},
                "tolerations": [dict(GPU_TOLERATION)],
            },
        )
    )
    assert rendered.template.metadata["annotations"]["prometheus.io/port"] == "8000"
    assert rendered.template.spec["tolerations"] == [GPU_TOLERATION]


def test_the_host_engine_can_be_overridden() -> None:
    entry = {
        "name": "gpu",
        "preset": "gpu-monitor",
        "env": [{"name": "DCGM_REMOTE_HOSTENGINE_INFO", "value": "dcgm.monitoring.svc:5555"}],
    }
    gpu = containers(render(pattern(main=GPU_MAIN, sidecars=[entry])))["gpu"]
    assert {"name": "DCGM_REMOTE_HOSTENGINE_INFO", "value": "dcgm.monitoring.svc:5555"} in gpu[
        "env"
    ]
    assert sum(item["name"] == "DCGM_REMOTE_HOSTENGINE_INFO" for item in gpu["env"]) == 1


def test_invalid_without_a_gpu_request() -> None:
    value = pattern(sidecars=[{"name": "gpu", "preset": "gpu-monitor"}])
    error = errors_by_path(value)["spec.main.resources.limits"]
    assert error.reason == "GPURequestMissing"
    assert "add resources.limits[nvidia.com/gpu] to spec.main" in error.message
    # The same through a profile based on the preset.
    through_profile = pattern(sidecars=[{"name": "gpu", "profile": "gpu"}])
    error = errors_by_path(through_profile, profile("gpu", preset="gpu-monitor"))[
        "spec.main.resources.limits"
    ]
    assert error.reason == "GPURequestMissing"
    # A request counts as well as a limit for the monitor; Kubernetes itself refuses a
    # GPU request without an equal limit, which is reported as that, not as a missing GPU.
    requested = pattern(
        main={**GPU_MAIN, "resources": {"requests": {"nvidia.com/gpu": 1}}},
        sidecars=[{"name": "gpu", "preset": "gpu-monitor"}],
    )
    assert [error.reason for error in errors_by_path(requested).values()] == [
        "InvalidResources"
    ]
