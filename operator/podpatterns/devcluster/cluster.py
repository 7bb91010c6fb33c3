"""Bring the dev cluster up, report on it, and take it down.

`up` is idempotent: with the cluster already running under the same options it only
reports. Ports are checked before anything starts, so a clash never leaves half a cluster.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from podpatterns.devcluster import binaries, host, images, kubeconfig, nodes, pki, versions
from podpatterns.devcluster import realnode as real
from podpatterns.devcluster.apiclient import ApiError, Client, wait_for
from podpatterns.devcluster.paths import Layout
from podpatterns.devcluster.processes import Spec, Supervisor, alive, check_ports
from podpatterns.devcluster.progress import say

API_PORT = 6443
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
CONTROLLER_MANAGER_PORT = 10257
SCHEDULER_PORT = 10259
KWOK_PORT = 10247
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
# The address other nodes would reach the API server on. It is never bound on the host: the
# API server listens on 127.0.0.1 only, and the real node (when present) relays this address
# inside its own network namespace to that loopback port.
ADVERTISE_ADDRESS = real.NODE_IP
KWOK_POD_CIDR = "10.64.0.1/10"
SERVER = f"https://127.0.0.1:{API_PORT}"

CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
# Stopped in reverse: the real node's parts before the control plane they talk to.
PROGRAMS = (*CONTROL_PLANE, *real.PROGRAMS)
EXECUTABLES = (
    *CONTROL_PLANE,
    "kubelet",
    "kube-proxy",
    "containerd",
    "socat",
    "containerd-shim-runc-v2",
)


COMPONENT_IDENTITIES = (pki.CONTROLLER_MANAGER, pki.SCHEDULER, pki.KWOK)
RESTARTABLE = (*CONTROL_PLANE, "containerd", "kubelet", "kube-proxy")


@dataclass(frozen=True)
class Options:
    workers: int = 3
    gpu_nodes: int = 1
    worker_cpu: str = "16"
    worker_memory: str = "64Gi"
    worker_pods: int = 110
    gpus_per_node: int = 4
    real_nodes: int | None = None  # None: one where this host can run it
    audit: bool = False
    controller_manager_qps: float | None = None
    controller_manager_burst: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Status:
    running: dict[str, int | None]
    kubeconfig: Path
    logs: Path
    options: Options | None
    nodes: list[tuple[str, bool]]
    real_node_note: str | None = None

    @property
    def up(self) -> bool:
        return all(self.running.get(c) for c in CONTROL_PLANE)

    @property
    def down(self) -> bool:
        return not any(self.running.values())


class DevCluster:
    def __init__(self, layout: Layout | None = None) -> None:
        self.layout = layout or Layout.default()
        self.supervisor = Supervisor(self.layout.run, self.layout.logs, self.layout.bin_root)

    # -- reading -----------------------------------------------------------------------
    def client(self) -> Client:
        certs = pki.ensure(
            self.layout.pki,
            apiserver_ips=self._apiserver_ips(),
            apiserver_names=self._apiserver_names(),
        )
        return Client(SERVER, certs.ca.cert, certs.client(pki.ADMIN))

    def saved_options(self) -> Options | None:
        try:
            raw = json.loads(self.layout.config_file.read_text())
        except (OSError, ValueError):
            return None
        return Options(**raw)

    def status(self) -> Status:
        running = {name: self.supervisor.pid(name) for name in PROGRAMS}
        found_nodes: list[tuple[str, bool]] = []
        if running.get("kube-apiserver"):
            try:
                listing = self.client().request("GET", "/api/v1/nodes")
                found_nodes = [(n["metadata"]["name"], nodes.is_ready(n)) for n in listing["items"]]
            except (OSError, ApiError):
                pass
        saved = self.saved_options()
        note = None
        if saved is not None and running.get("kube-apiserver") and not running.get("kubelet"):
            note = host.why_no_real_node() or "started with --real-nodes 0"
        return Status(running, self.layout.kubeconfig, self.layout.logs, saved, found_nodes, note)

    # -- up --------------------------------------------------------------------------
    def up(self, options: Options) -> Status:
        started = time.monotonic()
        bins = binaries.ensure(self.layout)
        current = self.status()
        if current.up and current.options == options:
            say(f"The dev cluster is already up ({self.layout.kubeconfig}).")
            return current
        if not current.down:
            say("Restarting the dev cluster (it was partly running or had other options).")
        # Also when nothing runs: a crash or a reboot can leave the real node's mounts,
        # network namespace and containers behind, and `down` clears them.
        self.down()
        real_nodes, why_not = self._real_nodes_wanted(options)
        if why_not:
            say(f"No real node: {why_not}.")
        if real_nodes:
            self.prepare_real_node()
        self._fresh_state()
        certs = pki.ensure(
            self.layout.pki,
            apiserver_ips=self._apiserver_ips(),
            apiserver_names=self._apiserver_names(),
        )
        configs = self._write_kubeconfigs(certs)
        specs = self._specs(bins, certs, configs, options)
        check_ports(specs.values())
        self.layout.config_file.write_text(json.dumps(options.to_json(), indent=2))
        admin = Client(SERVER, certs.ca.cert, certs.client(pki.ADMIN))
        try:
            with self._step("etcd"):
                self.supervisor.start(specs["etcd"])
                etcd = Client(
                    "https://127.0.0.1:2379", certs.ca.cert, certs.client(pki.APISERVER_ETCD)
                )
                self._wait("etcd", lambda: etcd.healthy("/health"), 30)
            with self._step("kube-apiserver"):
                self.supervisor.start(specs["kube-apiserver"])
                self._wait("kube-apiserver", admin.healthy, 60)
            with self._step("kube-controller-manager, kube-scheduler, kwok"):
                for name in ("kube-controller-manager", "kube-scheduler", "kwok"):
                    self.supervisor.start(specs[name])
                for name, port in (
                    ("kube-controller-manager", CONTROLLER_MANAGER_PORT),
                    ("kube-scheduler", SCHEDULER_PORT),
                ):
                    probe = Client(f"https://127.0.0.1:{port}", certs.ca.cert, None)
                    self._wait(name, lambda p=probe: p.healthy("/healthz"), 60)
            with self._step(f"{options.workers + options.gpu_nodes} kwok nodes Ready"):
                self._create_nodes(admin, options)
            if real_nodes:
                self._start_real_node(bins, certs, admin)
        except BaseException:
            say(f"Start-up failed; stopping what was started. Logs: {self.layout.logs}")
            self.down()
            raise
        say(
            f"The dev cluster is up in {time.monotonic() - started:.1f}s. "
            f'Use it with: eval "$(podpatterns dev-cluster env)"'
        )
        return self.status()

    def _real_nodes_wanted(self, options: Options) -> tuple[int, str | None]:
        reason = host.why_no_real_node()
        if options.real_nodes is None:
            return (0, reason) if reason else (1, None)
        if options.real_nodes > 1:
            raise ValueError(
                "--real-nodes: the dev cluster runs at most 1 real node (the "
                "API server relay and the Pod network are per host); use 0 or 1"
            )
        if options.real_nodes == 1 and reason:
            raise RuntimeError(f"--real-nodes 1: {reason}")
        return options.real_nodes, None

    def prepare_real_node(self) -> str | None:
        """Install the real node's packages and build its images; the reason when it can't."""
        why_not = host.why_no_real_node()
        if why_not is None:
            host.install(self.layout)
            self._build_images()
        return why_not

    def _build_images(self) -> list[Path]:
        return [images.build(image, self.layout) for image in images.standard_images()]

    def real_node_name(self) -> str:
        return real.NODE_NAME

    def load_image(self, source: Path, ref: str) -> str:
        if not self.status().running.get("containerd"):
            raise RuntimeError(
                "the real node is not running: start it with "
                "`podpatterns dev-cluster up` (on a host that can run it)"
            )
        node = self.real_node()
        archive = images.oci_archive(source, self.layout.build_root / "load")
        # Not kept across `down`: each `up` starts a new node, and re-importing every image
        # ever loaded (the operator's is 70 MB) would slow every start. Whoever needs an
        # image loads it after `up`, checking first (`ctr images list`) whether it is there.
        node.import_image(archive, ref)
        return ref

    def real_node(self) -> real.RealNode:
        return real.RealNode(self.layout)

    def _start_real_node(
        self, bins: binaries.Binaries, certs: pki.ClusterPKI, admin: Client
    ) -> None:
        node = self.real_node()
        with self._step(f"real node {real.NODE_NAME}: network namespace {node.netns}"):
            node.create_network()
            ca = pki.CertificateAuthority.load_or_create(certs.folder)
            configs = node.write_config(certs, images.pause_ref(), ca)
            node.share_kubelet_root()
            specs = {s.name: s for s in node.specs(bins.kubernetes, configs)}
        with self._step("containerd, and the locally built images"):
            self.supervisor.start(specs["containerd"])
            self._wait(
                "containerd",
                lambda: (
                    node.containerd_socket.exists()
                    and node.ctr("version", check=False).returncode == 0
                ),
                30,
            )
            for image, archive in zip(images.standard_images(), self._build_images(), strict=True):
                node.import_image(archive, image.ref)
        with self._step(f"kubelet and kube-proxy; {real.NODE_NAME} Ready"):
            for name in ("apiserver-relay-host", "apiserver-relay-node", "kubelet", "kube-proxy"):
                self.supervisor.start(specs[name])

            def ready() -> bool:
                try:
                    node_obj = admin.request("GET", f"/api/v1/nodes/{real.NODE_NAME}")
                except ApiError:
                    return False
                return nodes.is_ready(node_obj)

            self._wait("kubelet", ready, 90)

    @contextmanager
    def _step(self, title: str) -> Iterator[None]:
        started = time.monotonic()
        say(f"  → {title}")
        yield
        say(f"  ✓ {title} ({time.monotonic() - started:.1f}s)")

    def _wait(self, name: str, check: Any, timeout: float) -> None:
        wait_for(name, check, timeout, failed=lambda: self.supervisor.exited_early(name))

    def _fresh_state(self) -> None:
        # Each `up` after a `down` starts from an empty etcd, so tests never see leftovers.
        shutil.rmtree(self.layout.etcd_data, ignore_errors=True)
        self.layout.logs.mkdir(parents=True, exist_ok=True)
        for old in self.layout.logs.glob("*.log"):
            old.unlink()

    def _apiserver_ips(self) -> list[str]:
        return ["127.0.0.1", KUBERNETES_SERVICE_IP, ADVERTISE_ADDRESS]

    def _apiserver_names(self) -> list[str]:
        return [
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ]

    def _kubeconfig_paths(self) -> dict[str, Path]:
        folder = self.layout.cluster / "kubeconfigs"
        return {
            identity.file_stem: folder / f"{identity.file_stem}.kubeconfig"
            for identity in COMPONENT_IDENTITIES
        }

    def _write_kubeconfigs(self, certs: pki.ClusterPKI) -> dict[str, Path]:
        paths = self._kubeconfig_paths()
        configs = {
            identity.file_stem: kubeconfig.write(
                paths[identity.file_stem],
                SERVER,
                certs.ca.cert,
                certs.client(identity),
                identity.user,
            )
            for identity in COMPONENT_IDENTITIES
        }
        kubeconfig.write(
            self.layout.kubeconfig, SERVER, certs.ca.cert, certs.client(pki.ADMIN), pki.ADMIN.user
        )
        return configs

    def _serving_pair(self, certs: pki.ClusterPKI, stem: str) -> pki.Pair:
        ca = pki.CertificateAuthority.load_or_create(certs.folder)
        return ca.issue(
            certs.folder,
            stem,
            common_name=stem,
            dns_names=["localhost"],
            ip_addresses=["127.0.0.1"],
            server=True,
        )

    def _specs(
        self,
        bins: binaries.Binaries,
        certs: pki.ClusterPKI,
        configs: dict[str, Path],
        options: Options,
    ) -> dict[str, Spec]:
        layout = self.layout
        etcd_client = certs.client(pki.APISERVER_ETCD)
        apiserver_args = [
            f"--etcd-servers=https://127.0.0.1:{ETCD_CLIENT_PORT}",
            f"--etcd-cafile={certs.ca.cert}",
            f"--etcd-certfile={etcd_client.cert}",
            f"--etcd-keyfile={etcd_client.key}",
            "--bind-address=127.0.0.1",
            f"--secure-port={API_PORT}",
            f"--advertise-address={ADVERTISE_ADDRESS}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--tls-cert-file={certs.apiserver.cert}",
            f"--tls-private-key-file={certs.apiserver.key}",
            f"--client-ca-file={certs.ca.cert}",
            f"--service-account-key-file={certs.service_account_pub}",
            f"--service-account-signing-key-file={certs.service_account_key}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            f"--kubelet-client-certificate={certs.client(pki.APISERVER_KUBELET).cert}",
            f"--kubelet-client-key={certs.client(pki.APISERVER_KUBELET).key}",
            f"--kubelet-certificate-authority={certs.ca.cert}",
            "--kubelet-preferred-address-types=InternalIP",
            "--profiling=false",
            "--event-ttl=1h",
        ]
        if options.audit:
            policy = layout.cluster / "audit-policy.yaml"
            policy.write_text(
                yaml.safe_dump(
                    {
                        "apiVersion": "audit.k8s.io/v1",
                        "kind": "Policy",
                        "omitStages": ["RequestReceived"],
                        "rules": [{"level": "Metadata"}],
                    }
                )
            )
            apiserver_args += [
                f"--audit-policy-file={policy}",
                f"--audit-log-path={layout.audit_log}",
                "--audit-log-format=json",
                "--audit-log-maxsize=0",
                "--audit-log-mode=batch",
            ]
        kcm_serving = self._serving_pair(certs, "controller-manager-serving")
        kcm = configs[pki.CONTROLLER_MANAGER.file_stem]
        kcm_args = [
            f"--kubeconfig={kcm}",
            f"--authentication-kubeconfig={kcm}",
            f"--authorization-kubeconfig={kcm}",
            "--bind-address=127.0.0.1",
            f"--secure-port={CONTROLLER_MANAGER_PORT}",
            f"--tls-cert-file={kcm_serving.cert}",
            f"--tls-private-key-file={kcm_serving.key}",
            f"--service-account-private-key-file={certs.service_account_key}",
            f"--root-ca-file={certs.ca.cert}",
            f"--cluster-signing-cert-file={certs.ca.cert}",
            f"--cluster-signing-key-file={certs.ca.key}",
            "--controllers=*,bootstrapsigner,tokencleaner",
            "--leader-elect=false",
            # One identity for every controller, so the audit log attributes all of
            # kube-controller-manager's writes to system:kube-controller-manager.
            "--use-service-account-credentials=false",
            "--cluster-name=podpatterns-dev",
        ]
        if options.controller_manager_qps is not None:
            kcm_args.append(f"--kube-api-qps={options.controller_manager_qps}")
        if options.controller_manager_burst is not None:
            kcm_args.append(f"--kube-api-burst={options.controller_manager_burst}")
        sched_serving = self._serving_pair(certs, "scheduler-serving")
        sched = configs[pki.SCHEDULER.file_stem]
        stage_dir = binaries.kwok_stage_dir()
        stages = [
            stage_dir / "node" / "fast" / "node-initialize.yaml",
            stage_dir / "node" / "heartbeat-with-lease" / "node-heartbeat-with-lease.yaml",
            stage_dir / "pod" / "fast" / "pod-ready.yaml",
            stage_dir / "pod" / "fast" / "pod-complete.yaml",
            stage_dir / "pod" / "fast" / "pod-delete.yaml",
        ]
        return {
            "etcd": Spec(
                "etcd",
                (
                    str(bins.etcd / "etcd"),
                    "--name=podpatterns-dev",
                    f"--data-dir={layout.etcd_data}",
                    f"--listen-client-urls=https://127.0.0.1:{ETCD_CLIENT_PORT}",
                    f"--advertise-client-urls=https://127.0.0.1:{ETCD_CLIENT_PORT}",
                    f"--listen-peer-urls=http://127.0.0.1:{ETCD_PEER_PORT}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{ETCD_PEER_PORT}",
                    f"--initial-cluster=podpatterns-dev=http://127.0.0.1:{ETCD_PEER_PORT}",
                    f"--cert-file={certs.etcd_server.cert}",
                    f"--key-file={certs.etcd_server.key}",
                    f"--trusted-ca-file={certs.ca.cert}",
                    "--client-cert-auth=true",
                    # A throw-away test cluster: durability is not worth an fsync per write.
                    "--unsafe-no-fsync=true",
                    "--log-level=warn",
                ),
                ports=(ETCD_CLIENT_PORT, ETCD_PEER_PORT),
            ),
            "kube-apiserver": Spec(
                "kube-apiserver",
                (str(bins.k8s("kube-apiserver")), *apiserver_args),
                ports=(API_PORT,),
            ),
            "kube-controller-manager": Spec(
                "kube-controller-manager",
                (str(bins.k8s("kube-controller-manager")), *kcm_args),
                ports=(CONTROLLER_MANAGER_PORT,),
            ),
            "kube-scheduler": Spec(
                "kube-scheduler",
                (
                    str(bins.k8s("kube-scheduler")),
                    f"--kubeconfig={sched}",
                    f"--authentication-kubeconfig={sched}",
                    f"--authorization-kubeconfig={sched}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={SCHEDULER_PORT}",
                    f"--tls-cert-file={sched_serving.cert}",
                    f"--tls-private-key-file={sched_serving.key}",
                    "--leader-elect=false",
                ),
                ports=(SCHEDULER_PORT,),
            ),
            "kwok": Spec(
                "kwok",
                (
                    str(bins.kwok / "kwok"),
                    f"--kubeconfig={configs[pki.KWOK.file_stem]}",
                    "--manage-all-nodes=false",
                    f"--manage-nodes-with-annotation-selector={nodes.KWOK_ANNOTATION}=fake",
                    f"--cidr={KWOK_POD_CIDR}",
                    "--node-ip=10.63.0.1",
                    f"--server-address=127.0.0.1:{KWOK_PORT}",
                    "--node-lease-duration-seconds=40",
                    *(f"--config={stage}" for stage in stages),
                ),
                ports=(KWOK_PORT,),
            ),
        }

    def _create_nodes(self, admin: Client, options: Options) -> None:
        shape = nodes.NodeShape(
            cpu=options.worker_cpu, memory=options.worker_memory, pods=options.worker_pods
        )
        manifests = nodes.kwok_nodes(
            options.workers, options.gpu_nodes, shape, options.gpus_per_node
        )
        for manifest in manifests:
            try:
                admin.request("POST", "/api/v1/nodes", manifest)
            except ApiError as error:
                if error.status != 409:
                    raise
        wanted = {m["metadata"]["name"] for m in manifests}

        def all_ready() -> bool:
            listing = admin.request("GET", "/api/v1/nodes")
            ready = {n["metadata"]["name"] for n in listing["items"] if nodes.is_ready(n)}
            return wanted <= ready

        self._wait("kwok", all_ready, 60)

    # -- restart one component --------------------------------------------------------
    def restart(self, name: str, *, crash: bool = False, timeout: float = 90.0) -> int:
        """Stop one running component (SIGTERM, then SIGKILL after 10 s; with `crash`,
        SIGKILL without waiting) and start it again with the command line `up` gave it, its state
        kept; return once it is healthy again.

        For fault tests: etcd, kube-apiserver, the other control-plane parts, and the real
        node's containerd, kubelet and kube-proxy. Containers outlive their containerd and
        kubelet (their shims run in process groups of their own).
        """
        if name not in RESTARTABLE:
            raise ValueError(f"cannot restart {name!r}; one of {', '.join(RESTARTABLE)}")
        old = self.supervisor.pid(name)
        if old is None:
            raise RuntimeError(f"{name} is not running: start the cluster with `up` first")
        spec = self._restart_spec(name)
        healthy = self._health_check(name)
        self.supervisor.stop([name], timeout=0.0 if crash else 10.0)
        wait_for(name, lambda: not alive(old), 15, failed=lambda: None)
        # A killed Go program's main thread reads as a zombie while its other threads still
        # hold its sockets: start again only once its ports are free (seen: etcd's peer port
        # still listening, and the new etcd exiting on "address already in use").
        check_ports([spec], grace=15.0)
        pid = self.supervisor.start(spec)
        try:
            self._wait(name, healthy, timeout)
        except RuntimeError:  # it exited at once: once more, so the cluster is left whole
            check_ports([spec], grace=15.0)
            pid = self.supervisor.start(spec)
            self._wait(name, healthy, timeout)
        return pid

    def _restart_spec(self, name: str) -> Spec:
        bins = binaries.ensure(self.layout)
        if name in real.PROGRAMS:
            node = self.real_node()
            specs = node.specs(bins.kubernetes, node.config_paths())
            return next(spec for spec in specs if spec.name == name)
        options = self.saved_options()
        if options is None:
            raise RuntimeError("no saved options: the cluster was not started with `up`")
        certs = pki.ensure(
            self.layout.pki,
            apiserver_ips=self._apiserver_ips(),
            apiserver_names=self._apiserver_names(),
        )
        return self._specs(bins, certs, self._kubeconfig_paths(), options)[name]

    def _health_check(self, name: str) -> Any:
        """What says `name` is back: its health endpoint, or for the kubelet a renewal of
        its node's lease after the restart (the Node stays Ready meanwhile)."""
        certs = pki.ensure(
            self.layout.pki,
            apiserver_ips=self._apiserver_ips(),
            apiserver_names=self._apiserver_names(),
        )
        admin = Client(SERVER, certs.ca.cert, certs.client(pki.ADMIN))
        if name == "etcd":
            etcd = Client("https://127.0.0.1:2379", certs.ca.cert, certs.client(pki.APISERVER_ETCD))
            return lambda: etcd.healthy("/health")
        if name == "kube-apiserver":
            return admin.healthy
        ports = {
            "kube-controller-manager": CONTROLLER_MANAGER_PORT,
            "kube-scheduler": SCHEDULER_PORT,
        }
        if name in ports:
            probe = Client(f"https://127.0.0.1:{ports[name]}", certs.ca.cert, None)
            return lambda: probe.healthy("/healthz")
        if name == "containerd":
            node = self.real_node()
            return lambda: node.ctr("version", check=False).returncode == 0
        if name == "kubelet":
            before = _lease_renewal(admin)
            return lambda: (renewed := _lease_renewal(admin)) is not None and renewed != before
        return lambda: self.supervisor.pid(name) is not None

    # -- down ------------------------------------------------------------------------
    def down(self) -> list[str]:
        """Stop everything, the real node's containers first; works after a crash too.

        Order matters: the kubelet would restart containers, containers hold mounts and
        network namespaces, and containerd's shims outlive containerd. Returns whatever could
        not be removed (empty when the host is clean).
        """
        node = self.real_node()
        self.supervisor.stop(["kubelet", "kube-proxy"])
        node.kill_workloads()
        self.supervisor.stop(reversed(PROGRAMS))
        self.supervisor.sweep(EXECUTABLES, node.markers())
        node.kill_workloads()
        node.unmount_all()
        node.destroy_network()
        node.remove_state()
        leftovers = node.leftovers()
        leftovers += [
            f"process {pid}" for pid in self.supervisor.strays(EXECUTABLES, node.markers())
        ]
        return leftovers

    def env(self) -> str:
        return (
            f"export KUBECONFIG={self.layout.kubeconfig}\n"
            f"export PATH={self.layout.kubernetes_bin()}:$PATH\n"
        )

    def describe(self, status: Status) -> str:
        state = "up" if status.up else "down" if status.down else "partly up"
        lines = [
            f"dev cluster (Kubernetes {versions.KUBERNETES}, etcd {versions.ETCD}, "
            f"kwok {versions.KWOK}): {state}"
        ]
        for name, pid in status.running.items():
            if name in CONTROL_PLANE or pid:
                state = f"running (pid {pid})" if pid else "stopped"
                lines.append(f"  {name:<24} {state:<22} log: {self.supervisor.log_path(name)}")
        if status.real_node_note:
            lines.append(f"  real node: none ({status.real_node_note})")
        if status.nodes:
            ready = sum(1 for _, r in status.nodes if r)
            lines.append(
                f"  nodes: {ready}/{len(status.nodes)} Ready: "
                + ", ".join(n for n, _ in status.nodes)
            )
        lines.append(f"  kubeconfig: {status.kubeconfig}")
        lines.append(f"  logs: {status.logs}")
        return "\n".join(lines)


def _lease_renewal(admin: Client) -> str | None:
    """The real node's lease renewTime: the kubelet renews it every 10 s while it runs."""
    try:
        lease = admin.request(
            "GET",
            "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/" + real.NODE_NAME,
        )
    except (OSError, ApiError):
        return None
    renew = (lease.get("spec") or {}).get("renewTime") if isinstance(lease, dict) else None
    return str(renew) if renew else None
