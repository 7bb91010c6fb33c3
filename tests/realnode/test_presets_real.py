"""The presets with the real programs, in real Pods on the dev cluster's real node.

Each test renders a PodPattern with `podpatterns.render.pattern.render_pattern` (what the
operator and `podpatterns render` produce), applies the generated ConfigMaps, the Service
and the Pod, and checks what the programs do. No registry is reachable, so preset images
are overridden through the entry's container fields with the locally built ones: Debian's
nginx 1.22 for the proxy, busybox, and an OpenTelemetry Collector built from the preset's
own components (tests/support/otelcol.py). Fluent Bit and the DCGM exporter cannot run
here (docs/presets.md).
"""

from __future__ import annotations

import datetime
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from podpatterns.api.v1alpha1 import SidecarProfile
from podpatterns.api.validation import check, parse
from podpatterns.render import pod_name, render_pod
from podpatterns.render.pattern import RenderedPattern, render_pattern
from tests.realnode.conftest import RESTRICTED
from tests.support import otelcol
from tests.support.kube import Cluster
from tests.support.realnode import REAL_NODE_LABEL
from tests.support.wait import wait_until

POD_READY_TIMEOUT = 120.0
RESTRICTED_MAIN = {**RESTRICTED, "runAsUser": 65534}
# busybox's httpd on 127.0.0.1 only: the one way in from outside the Pod is the proxy.
# /cgi-bin/slow answers after 3 seconds, for the drain test. On SIGTERM the shell keeps
# the server up for a few seconds, as an application that drains its own requests does.
WEB_MAIN_SCRIPT = """\
mkdir -p /tmp/www/cgi-bin
echo "hello from the main container" > /tmp/www/index.html
cat > /tmp/www/cgi-bin/slow <<'CGI'
#!/bin/sh
sleep 3
echo "Content-Type: text/plain"
echo
echo "slow request finished"
CGI
chmod +x /tmp/www/cgi-bin/slow
trap 'sleep 6; exit 0' TERM
httpd -f -p 127.0.0.1:8000 -h /tmp/www &
wait
"""


def _pattern_body(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "podpatterns.dev/v1alpha1",
        "kind": "PodPattern",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "pod": {
                "nodeSelector": {REAL_NODE_LABEL: "true"},
                "tolerations": [
                    {"key": REAL_NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}
                ],
                "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            },
        },
    }
    body["spec"].update(spec)
    return body


def _deploy(
    cluster: Cluster,
    body: dict[str, Any],
    profiles: dict[str, SidecarProfile] | None = None,
    server_version: tuple[int, int] = (1, 37),
) -> tuple[RenderedPattern, str]:
    """Render, apply the ConfigMaps, the Service and the first Pod; return the Pod's name."""
    pattern = parse(body)
    assert check(pattern, profiles) == []
    rendered = render_pattern(pattern, profiles=profiles, server_version=server_version)
    name = pod_name(pattern, rendered.template, 0)
    cluster.apply([*rendered.objects(), render_pod(pattern, rendered.template, name)])
    return rendered, name


def _ready(cluster: Cluster, namespace: str, name: str) -> dict[str, Any] | None:
    pod: dict[str, Any] = cluster.get("pod", name, "-n", namespace)
    conditions = pod.get("status", {}).get("conditions") or []
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    return pod if ready else None


def _wait_ready(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        return _ready(cluster, namespace, name)

    try:
        return wait_until(probe, timeout=POD_READY_TIMEOUT, what=f"Pod {name} to be Ready")
    except AssertionError:
        described = cluster.kubectl("describe", "pod", name, "-n", namespace, check=False)
        raise AssertionError(described.stdout[-4000:]) from None


def _client(
    cluster: Cluster,
    namespace: str,
    images: dict[str, str],
    mounts: list[dict[str, Any]] | None = None,
    volumes: list[dict[str, Any]] | None = None,
) -> str:
    """A curl Pod on the real node, to talk to Services as other Pods do."""
    container: dict[str, Any] = {
        "name": "curl",
        "image": images["curl"],
        "imagePullPolicy": "Never",
        "command": ["sleep", "3600"],
        "securityContext": RESTRICTED_MAIN,
    }
    if mounts:
        container["volumeMounts"] = mounts
    spec: dict[str, Any] = {
        "nodeSelector": {REAL_NODE_LABEL: "true"},
        "tolerations": [{"key": REAL_NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}],
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
    }
    if volumes:
        spec["volumes"] = volumes
    cluster.apply(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"}, "spec": spec},
        "-n",
        namespace,
    )
    _wait_ready(cluster, namespace, "client")
    return "client"


def _curl(cluster: Cluster, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl(
        "exec",
        "client",
        "-n",
        namespace,
        "--",
        "curl",
        "-sS",
        "--max-time",
        "20",
        *args,
        check=False,
        timeout=40,
    )


def _web(
    namespace: str, images: dict[str, str], proxy: dict[str, Any], **spec: Any
) -> dict[str, Any]:
    return _pattern_body(
        "web",
        namespace,
        main={
            "name": "app",
            "image": images["busybox"],
            "imagePullPolicy": "Never",
            "command": ["sh", "-c", WEB_MAIN_SCRIPT],
            "ports": [{"name": "http", "containerPort": 8000}],
            "securityContext": RESTRICTED_MAIN,
        },
        sidecars=[
            {
                "name": "proxy",
                "preset": "proxy",
                "image": images["nginx"],
                "imagePullPolicy": "Never",
                **proxy,
            }
        ],
        service={"port": 80 if "tls" not in proxy.get("proxy", {}) else 443},
        **spec,
    )


def _service_ip(cluster: Cluster, namespace: str, name: str) -> str:
    return str(cluster.get("service", name, "-n", namespace)["spec"]["clusterIP"])


def _routed_service_ip(cluster: Cluster, namespace: str, name: str, port: int) -> str:
    """The Service's address once kube-proxy forwards it (the client Pod must run).

    kube-proxy programs a Service a moment after its Pod is Ready; until then a
    connection is refused (curl's exit 7), as any client would see it. Whatever answers
    then, even an HTTP error, proves the route.
    """
    ip = _service_ip(cluster, namespace, name)

    def routed() -> bool:
        # The later --max-time wins over _curl's own.
        answer = _curl(
            cluster, namespace, "-o", "/dev/null", "--max-time", "3", f"http://{ip}:{port}/"
        )
        return answer.returncode not in (7, 28)

    wait_until(routed, timeout=30, what=f"kube-proxy to forward Service {name} ({ip}:{port})")
    return ip


# --- proxy -------------------------------------------------------------------------------


def test_the_proxy_forwards_to_the_main_container_and_the_service_targets_it(
    cluster: Cluster, namespace: str, real_node: str, images: dict[str, str]
) -> None:
    rendered, pod = _deploy(cluster, _web(namespace, images, {}))
    _wait_ready(cluster, namespace, pod)
    service = cluster.get("service", "web", "-n", namespace)
    assert service["spec"]["ports"][0]["targetPort"] == 8080, "the proxy's port"
    _client(cluster, namespace, images)
    response = _curl(
        cluster, namespace, f"http://{_routed_service_ip(cluster, namespace, 'web', 80)}/"
    )
    assert response.stdout == "hello from the main container\n", response.stderr
    # nginx answered (its access log has the request), and it reached the app over
    # localhost: the app listens on 127.0.0.1 only.
    log = cluster.kubectl("logs", pod, "-c", "proxy", "-n", namespace).stdout
    assert '"GET / HTTP/1.1" 200' in log
    assert rendered.template.spec["initContainers"][0]["name"] == "proxy"


def _certificate(host: str) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def test_the_proxy_terminates_tls_with_the_secrets_certificate(
    cluster: Cluster, namespace: str, real_node: str, images: dict[str, str], tmp_path: Path
) -> None:
    host = f"web.{namespace}.svc"
    cert, key = _certificate(host)
    (tmp_path / "tls.crt").write_bytes(cert)
    (tmp_path / "tls.key").write_bytes(key)
    cluster.kubectl(
        "create",
        "secret",
        "tls",
        "web-tls",
        "-n",
        namespace,
        f"--cert={tmp_path / 'tls.crt'}",
        f"--key={tmp_path / 'tls.key'}",
    )
    cluster.kubectl(
        "create", "configmap", "ca", "-n", namespace, f"--from-file=ca.crt={tmp_path / 'tls.crt'}"
    )
    body = _web(namespace, images, {"proxy": {"port": 8443, "tls": {"secretName": "web-tls"}}})
    _, pod = _deploy(cluster, body)
    _wait_ready(cluster, namespace, pod)  # the readiness probe itself speaks HTTPS
    _client(
        cluster,
        namespace,
        images,
        mounts=[{"name": "ca", "mountPath": "/ca", "readOnly": True}],
        volumes=[{"name": "ca", "configMap": {"name": "ca"}}],
    )
    ip = _routed_service_ip(cluster, namespace, "web", 443)
    # Verified against the certificate: the proxy serves the Secret's certificate.
    response = _curl(
        cluster,
        namespace,
        "--cacert",
        "/ca/ca.crt",
        "--resolve",
        f"{host}:443:{ip}",
        f"https://{host}/",
    )
    assert response.stdout == "hello from the main container\n", response.stderr
    plain = _curl(cluster, namespace, f"http://{ip}:443/")
    # nginx's own answer to plain HTTP on a TLS port, not merely a failed exec.
    assert plain.returncode == 0, plain.stderr
    assert "The plain HTTP request was sent to HTTPS port" in plain.stdout, plain.stdout


def test_the_drain_lets_an_in_flight_request_finish(
    cluster: Cluster, namespace: str, real_node: str, images: dict[str, str]
) -> None:
    # Legacy mode: every container is told to stop at the same moment, so without the
    # drain hook nginx would stop at once and cut the request.
    body = _web(namespace, images, {}, sidecarMode="Legacy")
    _, pod = _deploy(cluster, body)
    _wait_ready(cluster, namespace, pod)
    _client(cluster, namespace, images)
    ip = _routed_service_ip(cluster, namespace, "web", 80)
    result: dict[str, subprocess.CompletedProcess[str]] = {}

    def slow_request() -> None:
        result["response"] = _curl(
            cluster, namespace, "-w", " %{http_code}", f"http://{ip}/cgi-bin/slow"
        )

    request = threading.Thread(target=slow_request)
    request.start()

    def in_flight() -> bool:
        # The CGI script sleeping inside the app: the request has passed the proxy. The
        # whole command line must be `sleep 3`: the shell running WEB_MAIN_SCRIPT has the
        # same words in its own.
        assert request.is_alive(), f"the request ended early: {result.get('response')}"
        found = cluster.kubectl(
            "exec",
            pod,
            "-c",
            "app",
            "-n",
            namespace,
            "--",
            "sh",
            "-c",
            "ps -o args | grep -x 'sleep 3'",
            check=False,
        )
        return found.returncode == 0

    wait_until(in_flight, timeout=15, what="the slow request to reach the app")
    cluster.kubectl("delete", "pod", pod, "-n", namespace, "--wait=false")
    request.join(timeout=40)
    response = result["response"]
    assert response.stdout == "slow request finished\n 200", response.stderr


# --- data-loader -------------------------------------------------------------------------


def test_the_data_loader_fills_the_volume_before_the_main_container_starts(
    cluster: Cluster, namespace: str, real_node: str, images: dict[str, str]
) -> None:
    body = _pattern_body(
        "reader",
        namespace,
        main={
            "name": "app",
            "image": images["busybox"],
            "imagePullPolicy": "Never",
            "command": ["sh", "-c", "cat /data/model.txt; sleep 3600"],
            "securityContext": RESTRICTED_MAIN,
        },
        initContainers=[
            {
                "name": "load",
                "preset": "data-loader",
                "dataLoader": {
                    "image": images["busybox"],
                    "command": ["sh", "-c", "echo 'model v7 loaded' > /data/model.txt"],
                    "volume": "data",
                },
                "imagePullPolicy": "Never",
            }
        ],
        volumes=[{"name": "data", "mountPath": "/data", "readOnly": ["app"], "emptyDir": {}}],
    )
    _, pod = _deploy(cluster, body)
    _wait_ready(cluster, namespace, pod)
    assert cluster.kubectl("logs", pod, "-c", "app", "-n", namespace).stdout == "model v7 loaded\n"
    denied = cluster.kubectl(
        "exec",
        pod,
        "-c",
        "app",
        "-n",
        namespace,
        "--",
        "sh",
        "-c",
        "echo x > /data/model.txt",
        check=False,
    )
    assert denied.returncode != 0, "the main container mounts the volume read-only"
    assert "Read-only file system" in denied.stderr, denied.stderr


# --- logging with the OpenTelemetry Collector --------------------------------------------


@pytest.fixture(scope="module")
def collector_image(cluster: Cluster) -> str:
    """The collector built from the preset's components, loaded into the real node."""
    archive, ref = otelcol.image_archive()
    from podpatterns.devcluster.cluster import DevCluster

    if not cluster.is_dev_cluster:
        pytest.skip("loading a local image needs the dev cluster")
    DevCluster().load_image(archive, ref)
    return ref


APP_WRITES_LINES = (
    'i=0; while true; do i=$((i+1)); echo "order $i accepted" >> /var/log/app/app.log; '
    "sleep 1; done"
)


def test_the_collector_ships_what_the_app_writes_to_its_output(
    cluster: Cluster, namespace: str, real_node: str, images: dict[str, str], collector_image: str
) -> None:
    body = _pattern_body(
        "orders",
        namespace,
        main={
            "name": "app",
            "image": images["busybox"],
            "imagePullPolicy": "Never",
            "command": ["sh", "-c", APP_WRITES_LINES],
            "securityContext": RESTRICTED_MAIN,
        },
        sidecars=[
            {
                "name": "logs",
                "preset": "logging",
                "image": collector_image,
                "imagePullPolicy": "Never",
            }
        ],
    )
    _, pod = _deploy(cluster, body)
    _wait_ready(cluster, namespace, pod)

    def shipped() -> str | None:
        out = cluster.kubectl("logs", pod, "-c", "logs", "-n", namespace, check=False).stdout
        return out if "order 3 accepted" in out else None

    output = wait_until(shipped, timeout=60, what="the app's lines in the collector's output")
    assert f"k8s.pod.name: Str({pod})" in output
    assert "k8s.container.name: Str(app)" in output


RECEIVER_CONFIG = """\
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "0.0.0.0:4317"}
exporters:
  debug: {verbosity: detailed}
service:
  telemetry: {metrics: {level: none}}
  pipelines:
    logs: {receivers: [otlp], exporters: [debug]}
"""


def test_the_collector_ships_over_otlp_to_a_second_collector(
    cluster: Cluster, namespace: str, real_node: str, images: dict[str, str], collector_image: str
) -> None:
    # The receiving collector: the same build, configured by hand, behind a Service.
    receiver_labels = {"app": "gateway"}
    cluster.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "gateway"},
                "data": {"config.yaml": RECEIVER_CONFIG},
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "gateway"},
                "spec": {
                    "selector": receiver_labels,
                    "ports": [{"name": "otlp", "port": 4317, "targetPort": 4317}],
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "gateway", "labels": receiver_labels},
                "spec": {
                    "nodeSelector": {REAL_NODE_LABEL: "true"},
                    "tolerations": [
                        {"key": REAL_NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}
                    ],
                    "containers": [
                        {
                            "name": "collector",
                            "image": collector_image,
                            "imagePullPolicy": "Never",
                            "args": ["--config=/etc/gateway/config.yaml"],
                            "ports": [{"containerPort": 4317}],
                            "readinessProbe": {"tcpSocket": {"port": 4317}, "periodSeconds": 2},
                            "securityContext": {**RESTRICTED, "runAsUser": 10001},
                            "volumeMounts": [{"name": "config", "mountPath": "/etc/gateway"}],
                        }
                    ],
                    "volumes": [{"name": "config", "configMap": {"name": "gateway"}}],
                },
            },
        ],
        "-n",
        namespace,
    )
    _wait_ready(cluster, namespace, "gateway")
    # No cluster DNS on the dev cluster: the endpoint is the Service's address.
    endpoint = f"{_service_ip(cluster, namespace, 'gateway')}:4317"
    body = _pattern_body(
        "orders",
        namespace,
        main={
            "name": "app",
            "image": images["busybox"],
            "imagePullPolicy": "Never",
            "command": ["sh", "-c", APP_WRITES_LINES],
            "securityContext": RESTRICTED_MAIN,
        },
        sidecars=[
            {
                "name": "logs",
                "preset": "logging",
                "image": collector_image,
                "imagePullPolicy": "Never",
                "logging": {"output": {"type": "otlp", "endpoint": endpoint}},
            }
        ],
    )
    _, pod = _deploy(cluster, body)
    _wait_ready(cluster, namespace, pod)

    def received() -> str | None:
        out = cluster.kubectl("logs", "gateway", "-n", namespace, check=False).stdout
        return out if "order 3 accepted" in out else None

    output = wait_until(received, timeout=60, what="the app's lines at the second collector")
    assert f"k8s.pod.name: Str({pod})" in output
