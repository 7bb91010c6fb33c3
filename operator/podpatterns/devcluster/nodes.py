"""The kwok nodes: simulated workers and GPU nodes that Pods are really scheduled onto."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KWOK_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_LABEL = "podpatterns.dev/kwok-node"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_LABEL = "nvidia.com/gpu.present"
GPU_TAINT = {"key": GPU_RESOURCE, "value": "present", "effect": "NoSchedule"}


@dataclass(frozen=True)
class NodeShape:
    cpu: str = "16"
    memory: str = "64Gi"
    pods: int = 110
    gpus: int = 0


def node_manifest(name: str, shape: NodeShape) -> dict[str, Any]:
    resources: dict[str, str] = {
        "cpu": shape.cpu,
        "memory": shape.memory,
        "pods": str(shape.pods),
        "ephemeral-storage": "100Gi",
    }
    labels = {
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/os": "linux",
        "kubernetes.io/hostname": name,
        "node-role.kubernetes.io/agent": "",
        "type": "kwok",
        KWOK_LABEL: "true",
    }
    spec: dict[str, Any] = {}
    if shape.gpus:
        resources[GPU_RESOURCE] = str(shape.gpus)
        labels[GPU_LABEL] = "true"
        spec["taints"] = [GPU_TAINT]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": labels,
        },
        "spec": spec,
        "status": {
            "allocatable": resources,
            "capacity": resources,
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": "fake",
                "kubeProxyVersion": "fake",
            },
        },
    }


def kwok_nodes(
    workers: int, gpu_nodes: int, worker: NodeShape, gpus_per_node: int = 4
) -> list[dict[str, Any]]:
    manifests = [node_manifest(f"kwok-worker-{i}", worker) for i in range(1, workers + 1)]
    gpu_shape = NodeShape(
        cpu=worker.cpu, memory=worker.memory, pods=worker.pods, gpus=gpus_per_node
    )
    manifests += [node_manifest(f"kwok-gpu-{i}", gpu_shape) for i in range(1, gpu_nodes + 1)]
    return manifests


def is_ready(node: dict[str, Any]) -> bool:
    conditions = node.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
