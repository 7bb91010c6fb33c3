"""Containers really run on the real node: shared volumes, localhost, native sidecars."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.realnode.conftest import RESTRICTED, on_real_node
from tests.support.kube import Cluster
from tests.support.wait import wait_until


def _pod(name: str, spec: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": on_real_node(spec)}


def _phase(cluster: Cluster, namespace: str, name: str) -> str:
    return str(cluster.get("pod", name, "-n", namespace)["status"].get("phase", ""))


def _ready(cluster: Cluster, namespace: str, name: str) -> bool:
    pod = cluster.get("pod", name, "-n", namespace)
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in pod["status"].get("conditions", []))


def _started(status: dict[str, Any]) -> dt.datetime:
    state = status["state"].get("running") or status["state"].get("terminated")
    return dt.datetime.fromisoformat(state["startedAt"])


def test_sidecar_reads_what_the_main_container_writes(
    cluster: Cluster, namespace: str, real_node: str, images: dict[str, str]
) -> None:
    spec = {
        "initContainers": [{
            "name": "shipper", "image": images["busybox"], "imagePullPolicy": "Never",
            "restartPolicy": "Always",
            "command": ["sh", "-c", "until [ -f /logs/app.log ]; do sleep 0.2; done; "
                        "tail -n +1 -F /logs/app.log"],
            "volumeMounts": [{"name": "logs", "mountPath": "/logs", "readOnly": True}],
        }],
        "containers": [{
            "name": "app", "image": images["busybox"], "imagePullPolicy": "Never",
            "command": ["sh", "-c",
                        "for i in 1 2 3; do echo \"request $i served\" >> /logs/app.log; done; "
                        "sleep 3600"],
            "volumeMounts": [{"name": "logs", "mountPath": "/logs"}],
        }],
        "volumes": [{"name": "logs", "emptyDir": {}}],
    }
    cluster.create(_pod("web", spec), "-n", namespace)

    def shipped() -> str | None:
        logs = cluster.kubectl("logs", "web", "-c", "shipper", "-n", namespace,
                               check=False).stdout
        return logs if "request 3 served" in logs else None

    logs = wait_until(shipped, timeout=60, what="the shipper to print the app's lines")
    assert logs.splitlines()[:3] == [f"request {i} served" for i in (1, 2, 3)]
    # The sidecar's mount is read-only: it cannot write into the app's log folder.
    denied = cluster.kubectl("exec", "web", "-c", "shipper", "-n", namespace, "--",
                             "sh", "-c", "echo x > /logs/forged", check=False)
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr


def test_nginx_sidecar_proxies_to_the_main_container_over_localhost(
    cluster: Cluster, namespace: str, real_node: str, images: dict[str, str]
) -> None:
    cluster.kubectl("create", "configmap", "proxy", "-n", namespace,
                    "--from-literal=default.conf="
                    "server { listen 8080; location / { proxy_pass http://127.0.0.1:8000; } }")
    spec = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [{
            "name": "proxy", "image": images["nginx"], "imagePullPolicy": "Never",
            "restartPolicy": "Always",
            "ports": [{"containerPort": 8080, "name": "http"}],
            "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
            "securityContext": {**RESTRICTED, "runAsUser": 101,
                                "readOnlyRootFilesystem": True},
            "volumeMounts": [{"name": "conf", "mountPath": "/etc/nginx/conf.d"},
                             {"name": "tmp", "mountPath": "/tmp"}],
        }],
        "containers": [{
            "name": "app", "image": images["busybox"], "imagePullPolicy": "Never",
            "command": ["sh", "-c", "mkdir -p /tmp/www && echo 'hello from the app' > "
                        "/tmp/www/index.html && exec httpd -f -p 127.0.0.1:8000 -h /tmp/www"],
            "securityContext": RESTRICTED,
        }],
        "volumes": [{"name": "conf", "configMap": {"name": "proxy"}},
                    {"name": "tmp", "emptyDir": {}}],
    }
    cluster.create(_pod("proxied", spec), "-n", namespace)
    wait_until(lambda: _ready(cluster, namespace, "proxied"), timeout=60,
               what="the Pod to be Ready through the proxy's readiness probe")
    response = cluster.kubectl("exec", "proxied", "-c", "app", "-n", namespace, "--", "sh",
                               "-c", "{ printf 'GET / HTTP/1.0\\r\\n\\r\\n'; sleep 1; } | "
                               "nc 127.0.0.1 8080")
    assert "200 OK" in response.stdout and "hello from the app" in response.stdout
    assert "Server: nginx" in response.stdout


def test_native_sidecar_is_started_before_the_main_container(
    cluster: Cluster, namespace: str, real_node: str, images: dict[str, str]
) -> None:
    spec = {
        "initContainers": [{
            "name": "agent", "image": images["busybox"], "imagePullPolicy": "Never",
            "restartPolicy": "Always",
            "command": ["sh", "-c", "sleep 2; date +%s > /shared/agent-up; sleep 3600"],
            "startupProbe": {"exec": {"command": ["test", "-f", "/shared/agent-up"]},
                             "periodSeconds": 1, "failureThreshold": 30},
            "volumeMounts": [{"name": "shared", "mountPath": "/shared"}],
        }],
        "containers": [{
            "name": "app", "image": images["busybox"], "imagePullPolicy": "Never",
            "command": ["sh", "-c", "if test -f /shared/agent-up; then echo agent-was-up; "
                        "else echo agent-was-missing; fi; sleep 3600"],
            "volumeMounts": [{"name": "shared", "mountPath": "/shared"}],
        }],
        "volumes": [{"name": "shared", "emptyDir": {}}],
    }
    cluster.create(_pod("ordered", spec), "-n", namespace)
    wait_until(lambda: _phase(cluster, namespace, "ordered") == "Running", timeout=60,
               what="the Pod to run")
    logs = wait_until(
        lambda: cluster.kubectl("logs", "ordered", "-c", "app", "-n", namespace,
                                check=False).stdout.strip(),
        timeout=30, what="the app's first line")
    assert logs == "agent-was-up"
    status = cluster.get("pod", "ordered", "-n", namespace)["status"]
    agent = status["initContainerStatuses"][0]
    app = status["containerStatuses"][0]
    assert agent["started"] is True
    assert _started(agent) <= _started(app)


def test_job_with_a_never_ending_native_sidecar_completes(
    cluster: Cluster, namespace: str, real_node: str, images: dict[str, str]
) -> None:
    job = {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "batch"},
        "spec": {"backoffLimit": 0, "template": {"spec": on_real_node({
            "restartPolicy": "Never",
            "initContainers": [{
                "name": "forever", "image": images["busybox"], "imagePullPolicy": "Never",
                "restartPolicy": "Always",
                "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
            }],
            "containers": [{"name": "work", "image": images["busybox"],
                            "imagePullPolicy": "Never",
                            "command": ["sh", "-c", "echo working; sleep 1; echo done"]}],
        })}},
    }
    cluster.apply(job, "-n", namespace)

    def complete() -> bool:
        status = cluster.get("job", "batch", "-n", namespace).get("status", {})
        return any(c["type"] == "Complete" and c["status"] == "True"
                   for c in status.get("conditions", []))

    wait_until(complete, timeout=90, what="the Job to complete despite its sidecar")
    pod = cluster.get("pods", "-n", namespace, "-l", "job-name=batch")["items"][0]

    def sidecar_stopped() -> dict[str, Any] | None:
        status = cluster.get("pod", pod["metadata"]["name"], "-n", namespace)["status"]
        terminated = status["initContainerStatuses"][0]["state"].get("terminated")
        return status if terminated else None

    status = wait_until(sidecar_stopped, timeout=60, what="the sidecar to be stopped")
    main_end = dt.datetime.fromisoformat(
        status["containerStatuses"][0]["state"]["terminated"]["finishedAt"])
    sidecar_end = dt.datetime.fromisoformat(
        status["initContainerStatuses"][0]["state"]["terminated"]["finishedAt"])
    assert sidecar_end >= main_end


def test_compliant_pod_runs_in_a_restricted_namespace(
    cluster: Cluster, namespace: str, real_node: str, images: dict[str, str]
) -> None:
    cluster.kubectl("label", "namespace", namespace,
                    "pod-security.kubernetes.io/enforce=restricted")
    spec = {"containers": [{
        "name": "app", "image": images["busybox"], "imagePullPolicy": "Never",
        "command": ["sh", "-c", "id -u; sleep 3600"], "securityContext": RESTRICTED,
    }]}
    cluster.create(_pod("compliant", spec), "-n", namespace)
    wait_until(lambda: _phase(cluster, namespace, "compliant") == "Running", timeout=60,
               what="the restricted Pod to run")
    uid = wait_until(lambda: cluster.kubectl("logs", "compliant", "-n", namespace,
                                             check=False).stdout.strip(),
                     timeout=30, what="its output")
    assert uid == "65534"


def test_pod_reaches_a_service_and_the_api_server_with_its_token(
    cluster: Cluster, namespace: str, real_node: str, images: dict[str, str]
) -> None:
    server = {"containers": [{"name": "web", "image": images["nginx"],
                              "imagePullPolicy": "Never",
                              "ports": [{"containerPort": 8080}],
                              "readinessProbe": {"httpGet": {"path": "/", "port": 8080},
                                                 "periodSeconds": 1}}]}
    cluster.create(_pod("server", server, {"app": "server"}), "-n", namespace)
    cluster.kubectl("expose", "pod", "server", "--port=80", "--target-port=8080",
                    "--name=server", "-n", namespace)
    cluster_ip = cluster.get("service", "server", "-n", namespace)["spec"]["clusterIP"]
    cluster.kubectl("create", "serviceaccount", "client", "-n", namespace)
    cluster.kubectl("create", "role", "read-pods", "--verb=get,list", "--resource=pods",
                    "-n", namespace)
    cluster.kubectl("create", "rolebinding", "client", "--role=read-pods",
                    f"--serviceaccount={namespace}:client", "-n", namespace)
    token_dir = "/var/run/secrets/kubernetes.io/serviceaccount"
    api = "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"
    auth = f'-H "Authorization: Bearer $(cat {token_dir}/token)" --cacert {token_dir}/ca.crt'
    client = {
        "serviceAccountName": "client",
        "containers": [{"name": "client", "image": images["curl"], "imagePullPolicy": "Never",
                        "command": ["sleep", "3600"]}],
    }
    cluster.create(_pod("client", client), "-n", namespace)
    wait_until(lambda: _ready(cluster, namespace, "server") and
               _phase(cluster, namespace, "client") == "Running",
               timeout=60, what="server and client Pods")

    def in_client(script: str) -> str:
        return cluster.kubectl("exec", "client", "-n", namespace, "--", "sh", "-c",
                               script).stdout

    def through_service() -> str | None:
        out = cluster.kubectl("exec", "client", "-n", namespace, "--", "curl", "-sS",
                              "--max-time", "3", f"http://{cluster_ip}/", check=False).stdout
        return out if "podpatterns nginx" in out else None

    wait_until(through_service, timeout=30, what="the Service to route to the server Pod")
    version = in_client(f"curl -sS --fail {auth} {api}/version")
    assert '"gitVersion"' in version
    allowed = in_client(f"curl -sS -o /dev/null -w '%{{http_code}}' {auth} "
                        f"{api}/api/v1/namespaces/{namespace}/pods")
    assert allowed == "200"
    denied = in_client(f"curl -sS -o /dev/null -w '%{{http_code}}' {auth} "
                       f"{api}/api/v1/namespaces/{namespace}/secrets")
    assert denied == "403"
    # Verification is real: without the cluster CA the same request is refused.
    unverified = cluster.kubectl("exec", "client", "-n", namespace, "--", "sh", "-c",
                                 f"curl -sS {api}/version", check=False)
    assert unverified.returncode != 0 and "certificate" in unverified.stderr.lower()
