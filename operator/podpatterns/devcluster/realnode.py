"""One real node: kubelet, containerd and runc, with kube-proxy, in a network namespace.

kwok nodes make Pods look Running; this node runs them. It lives in a network namespace the
dev cluster creates, joined to the host by a veth pair (node InternalIP inside it), with the
Pod network on a bridge inside it and no default route out, so nothing leaves the machine.
kube-apiserver stays on 127.0.0.1; a relay over a Unix socket gives the node's namespace
the API server's advertised address, so the kubelet and Pods (through the `kubernetes`
Service) reach it with verified TLS.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import tarfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from podpatterns.devcluster import kubeconfig, pki
from podpatterns.devcluster.paths import Layout
from podpatterns.devcluster.processes import Spec

NODE_NAME = "podpatterns-real-1"
LABEL = "podpatterns.dev/real-node"
TAINT = {"key": LABEL, "value": "true", "effect": "NoSchedule"}
HOST_IP = "10.217.0.1"
NODE_IP = "10.217.0.2"  # also the API server's advertised address, relayed in the namespace
NODE_PREFIX = 24
POD_SUBNET = "10.218.0.0/24"
BRIDGE = "ppbr0"
KUBELET_PORT = 10250
PROGRAMS = ("containerd", "apiserver-relay-host", "apiserver-relay-node", "kubelet", "kube-proxy")


@dataclass(frozen=True)
class RealNode:
    layout: Layout

    # -- names and paths ---------------------------------------------------------------
    @property
    def netns(self) -> str:
        return f"pp-{self._id}"

    @property
    def netns_path(self) -> Path:
        return Path("/run/netns") / self.netns

    @property
    def _id(self) -> str:
        # Short and unique per state folder: socket paths must stay under 108 bytes.
        return hashlib.sha256(str(self.layout.root).encode()).hexdigest()[:8]

    @property
    def host_if(self) -> str:
        return f"pp{self._id[:6]}h"

    @property
    def node_if(self) -> str:
        return f"pp{self._id[:6]}n"

    @property
    def root(self) -> Path:
        return self.layout.cluster / "realnode"

    @property
    def run_dir(self) -> Path:
        return Path("/run/podpatterns") / self._id

    @property
    def containerd_socket(self) -> Path:
        return self.run_dir / "containerd.sock"

    @property
    def relay_socket(self) -> Path:
        return self.run_dir / "apiserver.sock"

    @property
    def containerd_root(self) -> Path:
        return self.root / "containerd"

    @property
    def containerd_state(self) -> Path:
        return self.run_dir / "containerd-state"

    @property
    def pod_netns_dir(self) -> Path:
        return self.run_dir / "netns"

    @property
    def kubelet_root(self) -> Path:
        return self.root / "kubelet"

    def markers(self) -> tuple[str, ...]:
        """Strings in the command line of every process this node runs."""
        return (str(self.run_dir), str(self.root))

    # -- commands --------------------------------------------------------------------
    def in_netns(self) -> tuple[str, ...]:
        # nsenter rather than `ip netns exec`, which remounts /sys and hides the cgroups.
        return ("nsenter", f"--net={self.netns_path}")

    def _private_mounts(self) -> tuple[str, ...]:
        """Run containerd (and so its shims and containers) in a mount namespace of its own.

        Propagation from the host is kept (containers need the volumes the kubelet mounts),
        but nothing containerd mounts reaches the host: the Pods' network namespaces,
        which containerd 1.6 always pins under /run/netns, land on a tmpfs private to it,
        and container root filesystems too. They all vanish with the last of its
        processes, even after a crash.
        """
        return (
            "unshare",
            "--mount",
            "--propagation",
            "slave",
            "--",
            "sh",
            "-c",
            'mount -t tmpfs -o size=1m,mode=755 podpatterns-netns /run/netns && exec "$@"',
            "containerd-in-private-mounts",
        )

    def ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ctr", "--address", str(self.containerd_socket), "--namespace", "k8s.io", *args],
            check=check,
            capture_output=True,
            text=True,
            timeout=120,
        )

    # -- network -----------------------------------------------------------------------
    def create_network(self) -> None:
        self.destroy_network()
        _ip("netns", "add", self.netns)
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.node_if)
        _ip("link", "set", self.node_if, "netns", self.netns)
        _ip("addr", "add", f"{HOST_IP}/{NODE_PREFIX}", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        ns = ("-n", self.netns)
        _ip(*ns, "addr", "add", f"{NODE_IP}/{NODE_PREFIX}", "dev", self.node_if)
        _ip(*ns, "link", "set", self.node_if, "up")
        _ip(*ns, "link", "set", "lo", "up")
        # Forwarding inside the node is what lets Service traffic reach Pods on the bridge;
        # with no default route, anything bound elsewhere fails at once instead of leaving.
        for sysctl in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.route_localnet=1"):
            subprocess.run([*self.in_netns(), "sysctl", "-q", "-w", sysctl], check=True)

    def destroy_network(self) -> None:
        _ip("link", "del", self.host_if, check=False)
        if self.netns_path.exists():
            _ip("netns", "del", self.netns, check=False)
            with contextlib.suppress(OSError):
                subprocess.run(["umount", "-l", str(self.netns_path)], capture_output=True)
                self.netns_path.unlink()

    # -- configuration -----------------------------------------------------------------
    def write_config(
        self,
        certs: pki.ClusterPKI,
        pause_image: str,
        ca: pki.CertificateAuthority,
    ) -> dict[str, Path]:
        for folder in (
            self.root,
            self.run_dir,
            self.pod_netns_dir,
            self.kubelet_root,
            self.containerd_root,
        ):
            folder.mkdir(parents=True, exist_ok=True)
        cni_dir = self.root / "cni"
        cni_dir.mkdir(exist_ok=True)
        (cni_dir / "10-podpatterns.conflist").write_text(
            json.dumps(
                {
                    "cniVersion": "1.0.0",
                    "name": "podpatterns",
                    "plugins": [
                        {
                            "type": "bridge",
                            "bridge": BRIDGE,
                            "isGateway": True,
                            "ipMasq": False,
                            "hairpinMode": True,
                            "ipam": {
                                "type": "host-local",
                                "ranges": [[{"subnet": POD_SUBNET}]],
                                "routes": [{"dst": "0.0.0.0/0"}],
                                "dataDir": str(self.root / "cni-ipam"),
                            },
                        },
                        {"type": "portmap", "capabilities": {"portMappings": True}},
                    ],
                },
                indent=2,
            )
        )
        containerd_config = self.root / "containerd.toml"
        containerd_config.write_text(f"""\
version = 2
root = "{self.containerd_root}"
state = "{self.containerd_state}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "{self.containerd_socket}"

[ttrpc]
  address = "{self.run_dir / "containerd-ttrpc.sock"}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause_image}"
  # This host forbids lowering oom_score_adj; without this runc fails to start containers.
  restrict_oom_score_adj = true
  netns_mounts_under = "{self.pod_netns_dir}"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni_dir}"
""")
        kubelet_client = ca.issue(
            certs.folder,
            "kubelet-client",
            common_name=f"system:node:{NODE_NAME}",
            organizations=["system:nodes"],
            client=True,
        )
        kubelet_serving = ca.issue(
            certs.folder,
            "kubelet-serving",
            common_name=f"system:node:{NODE_NAME}",
            dns_names=[NODE_NAME],
            ip_addresses=[NODE_IP],
            server=True,
        )
        proxy_client = ca.issue(
            certs.folder, "kube-proxy", common_name="system:kube-proxy", client=True
        )
        server = f"https://{NODE_IP}:6443"
        kubelet_kubeconfig = kubeconfig.write(
            self.root / "kubelet.kubeconfig",
            server,
            certs.ca.cert,
            kubelet_client,
            f"system:node:{NODE_NAME}",
        )
        proxy_kubeconfig = kubeconfig.write(
            self.root / "kube-proxy.kubeconfig",
            server,
            certs.ca.cert,
            proxy_client,
            "system:kube-proxy",
        )
        resolv = self.root / "resolv.conf"
        # No resolver outside the cluster: a Pod's lookup fails at once, nothing leaves.
        resolv.write_text(
            "# podpatterns dev cluster: no upstream resolver\noptions timeout:1 attempts:1\n"
        )
        kubelet_config = self.root / "kubelet.yaml"
        kubelet_config.write_text(
            yaml.safe_dump(self._kubelet_config(certs, kubelet_serving, resolv), sort_keys=False)
        )
        proxy_config = self.root / "kube-proxy.yaml"
        proxy_config.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
                    "kind": "KubeProxyConfiguration",
                    "clientConnection": {"kubeconfig": str(proxy_kubeconfig)},
                    "mode": "iptables",
                    "clusterCIDR": POD_SUBNET,
                    "hostnameOverride": NODE_NAME,
                    "bindAddress": NODE_IP,
                    "healthzBindAddress": "127.0.0.1:10256",
                    "metricsBindAddress": "127.0.0.1:10249",
                    # Masquerading all Service traffic keeps replies between Pods on one bridge
                    # symmetric without depending on the host's bridge netfilter settings.
                    "iptables": {"masqueradeAll": True},
                    # Leave the host-wide conntrack table size alone: it is not ours to change.
                    "conntrack": {"maxPerCore": 0},
                },
                sort_keys=False,
            )
        )
        written = {
            "containerd": containerd_config,
            "kubelet": kubelet_config,
            "kubelet-kubeconfig": kubelet_kubeconfig,
            "kube-proxy": proxy_config,
        }
        assert written == self.config_paths()
        return written

    def config_paths(self) -> dict[str, Path]:
        """Where `write_config` puts the node's configuration, to restart a part with it."""
        return {
            "containerd": self.root / "containerd.toml",
            "kubelet": self.root / "kubelet.yaml",
            "kubelet-kubeconfig": self.root / "kubelet.kubeconfig",
            "kube-proxy": self.root / "kube-proxy.yaml",
        }

    def _kubelet_config(
        self,
        certs: pki.ClusterPKI,
        serving: pki.Pair,
        resolv: Path,
    ) -> dict[str, Any]:
        return {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": NODE_IP,
            "port": KUBELET_PORT,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": 10248,
            "tlsCertFile": str(serving.cert),
            "tlsPrivateKeyFile": str(serving.key),
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(certs.ca.cert)},
            },
            "authorization": {"mode": "Webhook"},
            "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
            # The host has cgroup v1 and no systemd managing cgroups.
            "failCgroupV1": False,
            "cgroupDriver": "cgroupfs",
            "cgroupsPerQOS": False,
            "enforceNodeAllocatable": [],
            "failSwapOn": False,
            "resolvConf": str(resolv),
            "clusterDomain": "cluster.local",
            "registerWithTaints": [TAINT],
            "maxPods": 50,
            "serializeImagePulls": False,
            # Locally built images cannot be pulled again: never collect them.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
                "nodefs.inodesFree": "1%",
            },
            "nodeStatusUpdateFrequency": "5s",
            "syncFrequency": "10s",
            "fileCheckFrequency": "60s",
            "shutdownGracePeriod": "0s",
        }

    def share_kubelet_root(self) -> None:
        """Make the kubelet's folder a shared mount before containerd starts.

        containerd runs in a mount namespace of its own (see `_private_mounts`); volumes the
        kubelet mounts later (Secrets, projected tokens) reach it only through a shared mount.
        """
        self.kubelet_root.mkdir(parents=True, exist_ok=True)
        root = str(self.kubelet_root)
        if root not in _mountpoints():
            subprocess.run(["mount", "--bind", root, root], check=True)
        subprocess.run(["mount", "--make-rshared", root], check=True)

    def specs(self, kubernetes_bin: Path, configs: dict[str, Path]) -> list[Spec]:
        ns = self.in_netns()
        return [
            Spec(
                "containerd",
                ("/usr/bin/containerd", f"--config={configs['containerd']}"),
                prefix=(*ns, *self._private_mounts()),
            ),
            Spec(
                "apiserver-relay-host",
                (
                    "/usr/bin/socat",
                    f"UNIX-LISTEN:{self.relay_socket},fork,unlink-early,mode=600",
                    "TCP:127.0.0.1:6443",
                ),
            ),
            Spec(
                "apiserver-relay-node",
                (
                    "/usr/bin/socat",
                    f"TCP-LISTEN:6443,bind={NODE_IP},fork,reuseaddr",
                    f"UNIX-CONNECT:{self.relay_socket}",
                ),
                prefix=ns,
            ),
            Spec(
                "kubelet",
                (
                    str(kubernetes_bin / "kubelet"),
                    f"--config={configs['kubelet']}",
                    f"--kubeconfig={configs['kubelet-kubeconfig']}",
                    f"--root-dir={self.kubelet_root}",
                    f"--hostname-override={NODE_NAME}",
                    f"--node-ip={NODE_IP}",
                    f"--node-labels={LABEL}=true",
                    "--v=1",
                ),
                prefix=ns,
            ),
            Spec(
                "kube-proxy",
                (
                    str(kubernetes_bin / "kube-proxy"),
                    f"--config={configs['kube-proxy']}",
                ),
                prefix=ns,
            ),
        ]

    # -- images ------------------------------------------------------------------------
    def import_image(self, archive: Path, ref: str) -> str:
        """Import an OCI archive under the full reference `ref` (repository:tag).

        The archive's own name annotation is replaced by `ref`: a bare tag would be
        imported as `import-DATE:TAG`, which the CRI then resolves against docker.io.
        """
        repository, _, tag = ref.rpartition(":")
        if not repository or "/" not in repository or not tag:
            raise ValueError(
                f"image name {ref!r} must be a full reference such as localhost/team/agent:1.2"
            )
        # One scratch file per import: two loads at once (tests, an image build) must not
        # overwrite each other's archive.
        named = self.run_dir / f"import-{os.getpid()}-{uuid.uuid4().hex[:8]}.oci.tar"
        _retag_archive(archive, named, tag)
        try:
            self.ctr("images", "import", "--all-platforms", "--base-name", repository, str(named))
        finally:
            named.unlink(missing_ok=True)
        if ref not in self.image_refs():
            raise RuntimeError(f"containerd did not list {ref} after importing {archive}")
        return ref

    def image_refs(self) -> list[str]:
        out = self.ctr("images", "list", "--quiet").stdout
        return [line for line in out.splitlines() if line and not line.startswith("sha256:")]

    # -- teardown ----------------------------------------------------------------------
    def kill_workloads(self) -> None:
        """Stop every container before its runtime, so nothing is left holding mounts."""
        if self.containerd_socket.exists():
            tasks = self.ctr("tasks", "list", "--quiet", check=False).stdout.split()
            for task in tasks:
                self.ctr("tasks", "kill", "--signal", "SIGKILL", "--all", task, check=False)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if not self.ctr("tasks", "list", "--quiet", check=False).stdout.split():
                    break
                time.sleep(0.2)
        for pid in self._container_processes():
            with contextlib.suppress(OSError):
                os.kill(pid, 9)

    def _container_processes(self) -> list[int]:
        state = str(self.containerd_state)
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                root = os.readlink(entry / "root")
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if root.startswith(state) or (
                "containerd-shim" in cmdline and str(self.containerd_socket) in cmdline
            ):
                found.append(int(entry.name))
        return found

    def unmount_all(self) -> list[str]:
        """Unmount whatever the node mounted: Pod volumes, rootfs, Pod network namespaces."""
        prefixes = (str(self.root), str(self.run_dir))
        unmounted = []
        for _ in range(3):
            mounts = [m for m in _mountpoints() if m.startswith(prefixes)]
            if not mounts:
                break
            for mount in sorted(mounts, key=len, reverse=True):
                result = subprocess.run(["umount", "-l", mount], capture_output=True)
                if result.returncode == 0:
                    unmounted.append(mount)
        return unmounted

    def leftovers(self) -> list[str]:
        """What of the node still exists: for `down` and for the test that it left nothing."""
        found = [f"process {pid}" for pid in self._container_processes()]
        prefixes = (str(self.root), str(self.run_dir))
        found += [f"mount {m}" for m in _mountpoints() if m.startswith(prefixes)]
        if self.netns_path.exists():
            found.append(f"network namespace {self.netns}")
        if Path(f"/sys/class/net/{self.host_if}").exists():
            found.append(f"network device {self.host_if}")
        return found

    def remove_state(self) -> None:
        # Each `up` starts the node from nothing, like a new machine joining; images are
        # re-imported from the cached archives in well under a second.
        for folder in (self.run_dir, self.root):
            subprocess.run(["rm", "-rf", "--one-file-system", str(folder)], check=False)


def _retag_archive(source: Path, target: Path, tag: str) -> None:
    """Copy an OCI archive, naming its (single) manifest with `tag`."""
    with tarfile.open(source) as src, tarfile.open(target, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member) if member.isfile() else None
            if member.name.lstrip("./") == "index.json" and data is not None:
                index = json.loads(data.read())
                manifests = index.get("manifests", [])
                if len(manifests) != 1:
                    raise ValueError(f"{source} holds {len(manifests)} images; load one at a time")
                manifests[0].setdefault("annotations", {})["org.opencontainers.image.ref.name"] = (
                    tag
                )
                payload = json.dumps(index).encode()
                member.size = len(payload)
                dst.addfile(member, io.BytesIO(payload))
            else:
                dst.addfile(member, data)


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


def _mountpoints() -> list[str]:
    points = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            points.append(line.split()[4].replace("\\040", " "))
    return points
