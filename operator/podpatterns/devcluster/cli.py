"""`podpatterns dev-cluster up | down | status | env`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

# The handlers import the dev cluster itself (and so `cryptography`, an extra) only when a
# dev-cluster command runs: the operator's image has no use for it.

EPILOG = """\
Examples:
  podpatterns dev-cluster up                   # build once (minutes), then start (seconds)
  eval "$(podpatterns dev-cluster env)"        # KUBECONFIG and the built kubectl
  kubectl get nodes
  podpatterns dev-cluster status
  podpatterns dev-cluster down

State, binaries and logs live under $PODPATTERNS_HOME (default ~/.cache/podpatterns).
"""


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "dev-cluster",
        help="a local Kubernetes cluster for tests and the demo",
        description="A real local cluster: etcd, kube-apiserver, kube-controller-manager and "
        "kube-scheduler built from the pinned Kubernetes modules, with kwok simulating nodes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    build = actions.add_parser(
        "build",
        help="build the binaries (once per version) without starting anything",
        description="Build kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, "
        "kubelet, kube-proxy, etcd and kwok from their pinned Go modules into the state "
        "folder; where this host can run the real node, also install its Debian packages and "
        "build its images. Cached: a second run returns at once.",
        epilog="Example:\n  podpatterns dev-cluster build",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.set_defaults(handler=_build)

    up = actions.add_parser(
        "up",
        help="start the cluster (idempotent)",
        description="Build the binaries when missing, then start the control plane and nodes.",
        epilog="Example:\n  podpatterns dev-cluster up --workers 5 --audit",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    up.add_argument("--workers", type=int, default=3, help="kwok worker nodes (default 3)")
    up.add_argument("--gpu-nodes", type=int, default=1, help="kwok GPU nodes (default 1)")
    up.add_argument("--worker-cpu", default="16", help="CPU of each kwok node (default 16)")
    up.add_argument("--worker-memory", default="64Gi", help="memory of each kwok node")
    up.add_argument("--worker-pods", type=int, default=110, help="Pods per kwok node (110)")
    up.add_argument(
        "--real-nodes",
        type=int,
        default=None,
        choices=(0, 1),
        help="real nodes (kubelet, containerd, runc): default 1 where this host "
        "can run one, else 0 with the reason",
    )
    up.add_argument(
        "--audit",
        action="store_true",
        help="write the API server's audit log (Metadata level) to the state folder",
    )
    up.add_argument(
        "--kcm-qps",
        type=float,
        default=None,
        help="kube-controller-manager --kube-api-qps (default: its own, 20)",
    )
    up.add_argument(
        "--kcm-burst",
        type=int,
        default=None,
        help="kube-controller-manager --kube-api-burst (default: its own, 30)",
    )
    up.set_defaults(handler=_up)

    down = actions.add_parser(
        "down",
        help="stop every process of the cluster",
        description="Stop the cluster; nothing of it keeps running. Logs stay for reading.",
        epilog="Example:\n  podpatterns dev-cluster down",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    down.set_defaults(handler=_down)

    status = actions.add_parser(
        "status",
        help="what runs, the nodes, and where the logs are",
        description="Show each component's process, the nodes and where logs are kept. "
        "Exit status 0 when the cluster is up, 3 when it is down or partly up.",
        epilog="Example:\n  podpatterns dev-cluster status",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    status.set_defaults(handler=_status)

    load = actions.add_parser(
        "load-image",
        help="load an OCI image into the real node",
        description="Import an image into the real node's containerd, where no registry is "
        "reachable. SOURCE is an OCI archive (for example from `buildah push IMAGE "
        "oci-archive:agent.tar`) or an OCI layout folder. Pods then use NAME with "
        "imagePullPolicy IfNotPresent or Never. Each `up` starts a new node: load the "
        "image again after it.",
        epilog="Example:\n  podpatterns dev-cluster load-image agent.tar "
        "--name localhost/team/agent:1.2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    load.add_argument("source", type=Path, help="OCI archive or OCI layout folder")
    load.add_argument(
        "--name", required=True, help="full image reference, e.g. localhost/team/agent:1.2"
    )
    load.set_defaults(handler=_load_image)

    env = actions.add_parser(
        "env",
        help="print shell exports for KUBECONFIG and kubectl",
        description="Print `export` lines that point KUBECONFIG at the admin kubeconfig and "
        "put the kubectl built for this cluster first on PATH.",
        epilog='Example:\n  eval "$(podpatterns dev-cluster env)"',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    env.set_defaults(handler=_env)


def _build(args: argparse.Namespace) -> int:
    from podpatterns.devcluster import binaries
    from podpatterns.devcluster.binaries import GoMissing
    from podpatterns.devcluster.cluster import DevCluster
    from podpatterns.devcluster.progress import StepFailed

    cluster = DevCluster()
    try:
        built = binaries.ensure(cluster.layout)
        why_not = cluster.prepare_real_node()
    except (GoMissing, StepFailed) as error:
        print(f"podpatterns dev-cluster build: {error}", file=sys.stderr)
        return 1
    print(f"binaries: {built.kubernetes}, {built.etcd}, {built.kwok}")
    print(f"real node: {'ready to start' if why_not is None else 'none (' + why_not + ')'}")
    return 0


def _up(args: argparse.Namespace) -> int:
    from podpatterns.devcluster.binaries import GoMissing
    from podpatterns.devcluster.cluster import DevCluster, Options
    from podpatterns.devcluster.processes import PortTaken
    from podpatterns.devcluster.progress import StepFailed

    options = Options(
        workers=args.workers,
        gpu_nodes=args.gpu_nodes,
        worker_cpu=args.worker_cpu,
        worker_memory=args.worker_memory,
        worker_pods=args.worker_pods,
        real_nodes=args.real_nodes,
        audit=args.audit,
        controller_manager_qps=args.kcm_qps,
        controller_manager_burst=args.kcm_burst,
    )
    cluster = DevCluster()
    try:
        status = cluster.up(options)
    except (GoMissing, PortTaken, StepFailed, RuntimeError, TimeoutError, ValueError) as error:
        print(f"podpatterns dev-cluster up: {error}", file=sys.stderr)
        return 1
    print(cluster.describe(status))
    return 0


def _down(args: argparse.Namespace) -> int:
    from podpatterns.devcluster.cluster import DevCluster

    cluster = DevCluster()
    leftovers = cluster.down()
    status = cluster.status()
    print(cluster.describe(status))
    for item in leftovers:
        print(f"  left behind: {item}", file=sys.stderr)
    return 0 if status.down and not leftovers else 1


def _status(args: argparse.Namespace) -> int:
    from podpatterns.devcluster.cluster import DevCluster

    cluster = DevCluster()
    status = cluster.status()
    print(cluster.describe(status))
    return 0 if status.up else 3


def _load_image(args: argparse.Namespace) -> int:
    from podpatterns.devcluster.cluster import DevCluster

    cluster = DevCluster()
    try:
        ref = cluster.load_image(args.source, args.name)
    except (ValueError, RuntimeError, OSError) as error:
        print(f"podpatterns dev-cluster load-image: {error}", file=sys.stderr)
        return 1
    print(f"loaded {ref} into {cluster.real_node_name()}")
    return 0


def _env(args: argparse.Namespace) -> int:
    from podpatterns.devcluster.cluster import DevCluster

    sys.stdout.write(DevCluster().env())
    return 0
