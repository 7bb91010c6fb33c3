"""The proxy preset: nginx in front of the main container.

It listens on `proxy.port` on the Pod's address and forwards to the main container on
127.0.0.1 (the containers share one network namespace), optionally terminating TLS with
the certificate of `proxy.tls.secretName`. The Service in front of the Pods targets it.
"""

from __future__ import annotations

from typing import Any

from podpatterns.api.v1alpha1 import ProxySettings
from podpatterns.presets.common import (
    CONFIG_ROOT,
    PresetContext,
    pre_stop_sleep,
    restricted_security_context,
)
from podpatterns.render import RenderError, ResolvedContainer, ServicePort

# nginx's "unprivileged" image: listens on 8080, runs as 101, keeps its pid file and
# temporary files under /tmp, includes /etc/nginx/conf.d/*.conf inside `http {}`.
NGINX_IMAGE = "nginxinc/nginx-unprivileged:1.30.4-alpine"
NGINX_USER = 101
CONF_DIR = "/etc/nginx/conf.d"
CONF_FILE = "proxy.conf"
TLS_DIR = f"{CONFIG_ROOT}/tls"
# Answered by nginx itself, so readiness means "the proxy accepts connections", whatever
# the app does; the app's own readiness probe already gates the Pod.
READY_PATH = "/.podpatterns/proxy-ready"
# Seconds the proxy keeps serving after the Pod is asked to stop: the time endpoints and
# load balancers need to stop sending new requests, and in-flight ones need to finish.
DRAIN_SECONDS = 5
PORT_NAME = "proxy"


def target_port(ctx: PresetContext, settings: ProxySettings) -> int:
    if settings.target_port is not None:
        return settings.target_port
    ports = ctx.pattern.spec.main.ports or []
    if not ports:
        raise RenderError(
            f"{ctx.path}.proxy.targetPort",
            "InvalidSpec",
            f"sidecar {ctx.name!r}: the proxy needs a port to forward to: set "
            "proxy.targetPort, or add a port to spec.main.ports",
        )
    return ports[0].container_port


def drain_seconds(ctx: PresetContext) -> int:
    """The drain, within the Pod's terminationGracePeriodSeconds: the API server refuses a
    preStop sleep that is not shorter, and the kubelet would cut it there anyway."""
    grace = ctx.pattern.spec.pod.termination_grace_period_seconds
    return DRAIN_SECONDS if grace is None else max(0, min(DRAIN_SECONDS, grace - 1))


def render_proxy(ctx: PresetContext, settings: ProxySettings) -> ResolvedContainer:
    tls = settings.tls is not None
    scheme = "HTTPS" if tls else "HTTP"
    # Unique in the Pod, also with two proxies (the API server warns about duplicates).
    port_name = PORT_NAME if ctx.instance == 0 else f"{PORT_NAME}-{ctx.instance}"
    config_volume = ctx.volume("config")
    tmp_volume = ctx.volume("tmp")
    mounts: list[dict[str, Any]] = [
        {"name": config_volume, "mountPath": CONF_DIR, "readOnly": True},
        {"name": tmp_volume, "mountPath": "/tmp"},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": config_volume, "configMap": {"name": ctx.config_map_name}},
        {"name": tmp_volume, "emptyDir": {}},
    ]
    if settings.tls is not None:
        tls_volume = ctx.volume("tls")
        mounts.append({"name": tls_volume, "mountPath": TLS_DIR, "readOnly": True})
        # Kubernetes' default file mode: the files belong to root, and the proxy's user
        # reads them through the "other" bits. Only this container mounts the Secret.
        volumes.append({"name": tls_volume, "secret": {"secretName": settings.tls.secret_name}})
    drain = drain_seconds(ctx)
    # No hook where the Pod leaves no second for one (terminationGracePeriodSeconds 0 or 1).
    drain_hook = {"lifecycle": {"preStop": pre_stop_sleep(drain, ctx.server_version)}}
    container: dict[str, Any] = {
        "name": ctx.name,
        "image": NGINX_IMAGE,
        "ports": [{"name": port_name, "containerPort": settings.port, "protocol": "TCP"}],
        "readinessProbe": {
            "httpGet": {"path": READY_PATH, "port": settings.port, "scheme": scheme},
            "periodSeconds": 5,
        },
        **(drain_hook if drain else {}),
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
        "securityContext": restricted_security_context(NGINX_USER),
        "volumeMounts": mounts,
    }
    config = nginx_config(ctx, settings, target_port(ctx, settings))
    return ResolvedContainer(
        container=container,
        volumes=tuple(volumes),
        config_maps={ctx.config_map_name: {CONF_FILE: config}},
        service_port=ServicePort(port=settings.port, name="https" if tls else "http"),
    )


def nginx_config(ctx: PresetContext, settings: ProxySettings, target: int) -> str:
    """A server block for /etc/nginx/conf.d: it is included inside nginx's `http {}`.

    Kept to directives nginx 1.22 already has (`listen ... ssl`, not `http2 on`), so the
    same file runs in the pinned image and in older distribution packages.
    """
    listen = f"{settings.port} ssl" if settings.tls is not None else str(settings.port)
    lines = [
        ctx.header().rstrip("\n"),
        "",
        "# WebSocket and other upgraded connections pass through; others keep no state.",
        "map $http_upgrade $podpatterns_connection {",
        "    default upgrade;",
        "    ''      close;",
        "}",
        "",
        "server {",
        f"    listen {listen};",
    ]
    if settings.tls is not None:
        lines += [
            f"    ssl_certificate     {TLS_DIR}/tls.crt;",
            f"    ssl_certificate_key {TLS_DIR}/tls.key;",
            "    ssl_protocols       TLSv1.2 TLSv1.3;",
        ]
    lines += [
        "",
        f"    location = {READY_PATH} {{",
        "        access_log off;",
        "        default_type text/plain;",
        '        return 200 "ready\\n";',
        "    }",
        "",
        "    location / {",
        f"        proxy_pass http://127.0.0.1:{target};",
        "        proxy_http_version 1.1;",
        "        proxy_set_header Host $host;",
        "        proxy_set_header Upgrade $http_upgrade;",
        "        proxy_set_header Connection $podpatterns_connection;",
        "        proxy_set_header X-Real-IP $remote_addr;",
        "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "        proxy_set_header X-Forwarded-Proto $scheme;",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"
