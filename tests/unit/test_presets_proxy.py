"""The proxy preset and the Service in front of the Pods.

When nginx is installed on the machine running the tests (the dev cluster's real node uses
Debian's), the generated configuration is also checked by `nginx -t` itself.
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from podpatterns.presets.proxy import NGINX_IMAGE, READY_PATH, TLS_DIR
from podpatterns.render import PATTERN_LABEL, owner_reference
from tests.unit.presets_support import UID, config_data, containers, pattern, render, volumes


def proxy(**settings: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": "edge", "preset": "proxy"}
    if settings:
        entry["proxy"] = settings
    return entry


def nginx_conf(**settings: Any) -> str:
    return config_data(render(pattern(sidecars=[proxy(**settings)])), "web-proxy-edge")[
        "proxy.conf"
    ]


def test_defaults() -> None:
    rendered = render(pattern(sidecars=[proxy()]))
    edge = containers(rendered)["edge"]
    assert edge["image"] == NGINX_IMAGE
    assert edge["ports"] == [{"name": "proxy", "containerPort": 8080, "protocol": "TCP"}]
    assert edge["readinessProbe"]["httpGet"] == {"path": READY_PATH, "port": 8080, "scheme": "HTTP"}
    assert edge["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}
    assert edge["securityContext"]["readOnlyRootFilesystem"] is True
    # nginx writes its pid and temporary files under /tmp: a writable emptyDir there.
    assert {"name": "edge-tmp", "mountPath": "/tmp"} in edge["volumeMounts"]
    assert volumes(rendered)["edge-tmp"] == {"name": "edge-tmp", "emptyDir": {}}
    assert {"name": "edge-config", "mountPath": "/etc/nginx/conf.d", "readOnly": True} in edge[
        "volumeMounts"
    ]
    conf = nginx_conf()
    assert "    listen 8080;" in conf
    # The main container's first port, over localhost.
    assert "proxy_pass http://127.0.0.1:8000;" in conf


def test_explicit_target_and_port() -> None:
    conf = nginx_conf(port=9443, targetPort=3000)
    assert "    listen 9443;" in conf and "proxy_pass http://127.0.0.1:3000;" in conf


def test_tls_terminates_with_the_secret_mounted_read_only() -> None:
    rendered = render(pattern(sidecars=[proxy(port=8443, tls={"secretName": "web-tls"})]))
    edge = containers(rendered)["edge"]
    assert {"name": "edge-tls", "mountPath": TLS_DIR, "readOnly": True} in edge["volumeMounts"]
    assert volumes(rendered)["edge-tls"] == {
        "name": "edge-tls",
        "secret": {"secretName": "web-tls"},
    }
    assert edge["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    conf = config_data(rendered, "web-proxy-edge")["proxy.conf"]
    assert "    listen 8443 ssl;" in conf
    assert f"ssl_certificate     {TLS_DIR}/tls.crt;" in conf
    assert f"ssl_certificate_key {TLS_DIR}/tls.key;" in conf


def test_older_clusters_drain_with_a_shell_sleep() -> None:
    edge = containers(render(pattern(sidecars=[proxy()]), server_version=(1, 29)))["edge"]
    assert edge["lifecycle"]["preStop"] == {"exec": {"command": ["sh", "-c", "sleep 5"]}}


@pytest.mark.parametrize(
    ("grace", "drain"), [(None, 5), (30, 5), (6, 5), (3, 2), (1, None), (0, None)]
)
def test_the_drain_stays_within_the_grace_period(grace: int | None, drain: int | None) -> None:
    # The API server refuses a preStop sleep that is not shorter than the grace period.
    pod = {} if grace is None else {"terminationGracePeriodSeconds": grace}
    edge = containers(render(pattern(sidecars=[proxy()], pod=pod)))["edge"]
    if drain is None:
        assert "lifecycle" not in edge
    else:
        assert edge["lifecycle"] == {"preStop": {"sleep": {"seconds": drain}}}


def test_the_image_can_be_overridden_and_the_hook_too() -> None:
    entry = {
        **proxy(),
        "image": "localhost/podpatterns/nginx:1.22.1",
        "imagePullPolicy": "Never",
        "lifecycle": {"preStop": {"sleep": {"seconds": 15}}},
    }
    edge = containers(render(pattern(sidecars=[entry])))["edge"]
    assert edge["image"] == "localhost/podpatterns/nginx:1.22.1"
    assert edge["imagePullPolicy"] == "Never"
    assert edge["lifecycle"] == {"preStop": {"sleep": {"seconds": 15}}}


def test_the_service_targets_the_proxy() -> None:
    rendered = render(pattern(sidecars=[proxy(port=8443)], service={"port": 443}))
    assert rendered.service == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "labels": {PATTERN_LABEL: "web"},
            "ownerReferences": [owner_reference(pattern())],
        },
        "spec": {
            "type": "ClusterIP",
            "selector": {PATTERN_LABEL: "web"},
            "ports": [{"name": "http", "port": 443, "targetPort": 8443, "protocol": "TCP"}],
        },
    }
    assert rendered.service["metadata"]["ownerReferences"][0]["uid"] == UID


def test_without_a_proxy_the_service_targets_the_main_containers_first_port() -> None:
    value = pattern(
        service={"type": "NodePort", "annotations": {"example.com/team": "shop"}},
        main={
            "name": "app",
            "image": "app:1",
            "ports": [
                {"name": "dns", "containerPort": 5353, "protocol": "UDP"},
                {"containerPort": 8080},
            ],
        },
    )
    service = render(value).service
    assert service is not None
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"] == [
        {"name": "dns", "port": 5353, "targetPort": 5353, "protocol": "UDP"}
    ]
    assert service["metadata"]["annotations"] == {"example.com/team": "shop"}


def test_no_service_field_no_service() -> None:
    assert render(pattern(sidecars=[proxy()])).service is None
    assert render(pattern(sidecars=[proxy()])).objects() == list(
        render(pattern(sidecars=[proxy()])).config_maps
    )


# --- nginx itself ------------------------------------------------------------------------

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def _certificate(directory: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "web.shop.svc")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (directory / "tls.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "tls.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed on this machine")
@pytest.mark.parametrize("settings", [{}, {"port": 8443, "tls": {"secretName": "web-tls"}}])
def test_nginx_accepts_the_generated_configuration(
    tmp_path: Path, settings: dict[str, Any]
) -> None:
    assert NGINX is not None
    conf = nginx_conf(**settings)
    if "tls" in settings:
        _certificate(tmp_path)
        conf = conf.replace(TLS_DIR, str(tmp_path))
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "proxy.conf").write_text(conf)
    # The frame the unprivileged images give it: conf.d included inside http {}, and
    # everything nginx writes in a folder of its own.
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\n"
        "error_log stderr;\n"
        "events {}\n"
        "http {\n"
        f"    client_body_temp_path {tmp_path}/client;\n"
        f"    proxy_temp_path {tmp_path}/proxy;\n"
        f"    fastcgi_temp_path {tmp_path}/fastcgi;\n"
        f"    uwsgi_temp_path {tmp_path}/uwsgi;\n"
        f"    scgi_temp_path {tmp_path}/scgi;\n"
        f"    include {tmp_path}/conf.d/*.conf;\n"
        "}\n"
    )
    result = subprocess.run(
        [
            NGINX,
            "-t",
            "-q",
            "-e",
            "stderr",
            "-p",
            str(tmp_path),
            "-c",
            str(tmp_path / "nginx.conf"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
