"""`podpatterns demo`: everything set up, the operator at work on examples/.

Starts the dev cluster unless KUBECONFIG names a cluster, installs the CRDs, runs the
operator in the background, applies the examples and waits until their Pods run. Where
the cluster has its real node it also runs the web + log-shipping example there for real
and prints what the sidecar read from the shared volume.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from podpatterns.devcluster.paths import home
from podpatterns.render.labels import PATTERN_LABEL

EPILOG = """\
Examples:
  podpatterns demo                  # or: make demo
  podpatterns demo --stop           # stop the operator and remove the demo namespace
  KUBECONFIG=~/.kube/config podpatterns demo   # on your own cluster (kind, minikube)
"""
REAL_NODE_LABEL = "podpatterns.dev/real-node"


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="set everything up and show the operator at work on examples/",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--namespace",
        default="podpatterns-demo",
        help="namespace for the examples (default podpatterns-demo)",
    )
    parser.add_argument(
        "--examples",
        type=Path,
        default=_repo_examples(),
        help="folder of PodPattern files (default: the project's examples/)",
    )
    parser.add_argument(
        "--timeout", type=float, default=180, help="seconds to wait for the Pods (default 180)"
    )
    parser.add_argument(
        "--stop", action="store_true", help="stop the demo's operator and delete its namespace"
    )
    parser.set_defaults(handler=_demo)


def _repo_examples() -> Path:
    return Path(__file__).resolve().parents[3] / "examples"


class Demo:
    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.state = home() / "demo" / namespace
        self.env = dict(os.environ)
        self.kubectl_path = "kubectl"
        self.dev_cluster = False

    # -- steps -------------------------------------------------------------------------
    def cluster(self) -> None:
        if os.environ.get("KUBECONFIG"):
            _say(f"Using the cluster in KUBECONFIG={os.environ['KUBECONFIG']}")
            if shutil.which("kubectl") is None:
                raise SystemExit(
                    "kubectl is not on PATH; install it or unset KUBECONFIG to use the dev cluster"
                )
            return
        from podpatterns.devcluster.cluster import DevCluster, Options

        dev = DevCluster()
        if not dev.status().up:
            _say("Starting the dev cluster (the first run builds it: about 8 minutes)")
            dev.up(Options())
        self.dev_cluster = True
        self.env["KUBECONFIG"] = str(dev.layout.kubeconfig)
        self.kubectl_path = str(dev.layout.kubectl())

    def install_crds(self) -> None:
        from podpatterns.api.crd import render_crds

        crds = list(render_crds().values())
        _say(f"Installing {len(crds)} CRDs (server-side apply)")
        self.kubectl(
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=podpatterns-demo",
            "-f",
            "-",
            input=yaml.safe_dump_all(crds),
        )
        for crd in crds:
            self.kubectl(
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                f"crd/{crd['metadata']['name']}",
            )

    def start_operator(self) -> Path:
        self.state.mkdir(parents=True, exist_ok=True)
        log = self.state / "operator.log"
        pid = self._operator_pid()
        if pid is not None:
            _say(f"The operator is already running (pid {pid}); log: {log}")
            return log
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "podpatterns", "run", "--namespace", self.namespace],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        (self.state / "operator.pid").write_text(str(proc.pid))
        _say(f"Operator running (pid {proc.pid}); log: {log}")
        return log

    def apply_examples(self, folder: Path) -> list[Path]:
        # A namespace left terminating by an earlier --stop would refuse the examples.
        self.kubectl(
            "wait", "--for=delete", f"namespace/{self.namespace}", "--timeout=90s", check=False
        )
        self.kubectl("create", "namespace", self.namespace, check=False)
        files = sorted(folder.glob("*.yaml"))
        if self._has_real_node():
            files += sorted((folder / "dev-cluster").glob("*.yaml"))
        else:
            _say("No real node in this cluster: the examples run on simulated nodes only")
        for path in files:
            _say(f"kubectl apply -f {path.relative_to(folder.parent)}")
            self.kubectl("apply", "-n", self.namespace, "-f", str(path))
        return files

    def wait_for_pods(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            # Fully qualified: "podpatterns" is also the category of both kinds, and
            # kubectl would list the SidecarProfiles of the examples with it.
            patterns = self.get("podpatterns.podpatterns.dev")["items"]
            wanted = sum(p["spec"].get("workload", {}).get("replicas", 1) for p in patterns)
            pods = self.get("pods", "-l", PATTERN_LABEL)["items"]
            running = [
                p
                for p in pods
                if p["status"].get("phase") == "Running"
                and not p["metadata"].get("deletionTimestamp")
            ]
            ready = [p for p in patterns if p.get("status", {}).get("phase") == "Ready"]
            line = (
                f"{len(running)}/{wanted} Pods Running, "
                f"{len(ready)}/{len(patterns)} PodPatterns Ready"
            )
            if line != last:
                _say(f"  … {line}")
                last = line
            if patterns and len(running) >= wanted and len(ready) == len(patterns):
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"Timed out: {line}. See the operator's log in {self.state}")
            time.sleep(1)

    def show(self) -> None:
        print()
        print(self.kubectl("get", "pp,pods", "-o", "wide", "-n", self.namespace).stdout)

    def show_real_node_logs(self, timeout: float = 60) -> None:
        pods = self.get("pods", "-l", f"{PATTERN_LABEL}=web-real")["items"]
        if not pods:
            return
        name = pods[0]["metadata"]["name"]
        deadline = time.monotonic() + timeout
        logs = ""
        while time.monotonic() < deadline:
            logs = self.kubectl(
                "logs", name, "-c", "log-shipper", "-n", self.namespace, check=False
            ).stdout
            if len(logs.splitlines()) >= 3:
                break
            time.sleep(1)
        print(
            f"On the real node, the app in {name} writes its access log into the shared "
            "volume; its log-shipper sidecar (read-only mount) prints:"
        )
        print(f"$ kubectl logs {name} -c log-shipper -n {self.namespace}")
        print(logs.rstrip() or "(nothing yet)")
        print()

    def stop(self, examples: Path) -> None:
        pid = self._operator_pid()
        if pid is not None:
            os.killpg(pid, signal.SIGTERM)
            _say(f"Stopped the operator (pid {pid})")
        (self.state / "operator.pid").unlink(missing_ok=True)
        self.kubectl(
            "delete",
            "namespace",
            self.namespace,
            "--ignore-not-found",
            "--timeout=90s",
            check=False,
        )
        _say(f"Deleted namespace {self.namespace}")
        # SidecarProfiles are cluster-scoped: deleting the namespace leaves them behind.
        for name in cluster_scoped_profiles(examples):
            self.kubectl("delete", "sidecarprofile", name, "--ignore-not-found", check=False)
            _say(f"Deleted SidecarProfile {name}")

    # -- helpers ---------------------------------------------------------------------
    def _operator_pid(self) -> int | None:
        try:
            pid = int((self.state / "operator.pid").read_text())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return pid if b"podpatterns" in cmdline and b"run" in cmdline else None

    def _has_real_node(self) -> bool:
        nodes = self.get("nodes", "-l", f"{REAL_NODE_LABEL}=true", namespaced=False)
        return bool(nodes["items"])

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.kubectl_path, *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise SystemExit(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def get(self, *args: str, namespaced: bool = True) -> Any:
        scope = ["-n", self.namespace] if namespaced else []
        return json.loads(self.kubectl("get", *args, *scope, "-o", "json").stdout)


def cluster_scoped_profiles(examples: Path) -> list[str]:
    """Names of the SidecarProfiles the demo's example files create."""
    names = []
    for path in sorted(examples.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "SidecarProfile":
                names.append(str(doc["metadata"]["name"]))
    return names


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _demo(args: argparse.Namespace) -> int:
    demo = Demo(args.namespace)
    demo.cluster()
    if args.stop:
        demo.stop(args.examples)
        return 0
    demo.install_crds()
    demo.start_operator()
    demo.apply_examples(args.examples)
    demo.wait_for_pods(args.timeout)
    demo.show()
    demo.show_real_node_logs()
    stop = "podpatterns demo --stop"
    print("The operator keeps running in the background. Try:")
    print(f"  kubectl -n {demo.namespace} delete pod <one of the Pods>   # it comes back")
    print(f"  kubectl -n {demo.namespace} scale pp/web --replicas=5")
    print(
        f"To stop: {stop}" + ("   then: podpatterns dev-cluster down" if demo.dev_cluster else "")
    )
    if demo.dev_cluster:
        print('To use kubectl here: eval "$(podpatterns dev-cluster env)"')
    return 0
