"""A small HTTPS client for the benchmark: JSON requests and watch streams.

Standard library only, on purpose: the benchmark times steps of a few hundred milliseconds,
so its own client must add little and predictable overhead (no model objects, one
keep-alive connection per thread), and it must not share code with the operator it
measures.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import shutil
import socket
import ssl
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
# A keep-alive connection the server has closed meanwhile shows up as one of these on the
# next request; the request never reached the server, so it is sent again on a new one.
_STALE = (OSError, http.client.HTTPException)


class KubeError(RuntimeError):
    def __init__(self, status: int, method: str, path: str, body: str) -> None:
        self.status = status
        try:
            decoded = json.loads(body)
            message = decoded.get("message", body) if isinstance(decoded, dict) else body
        except ValueError:
            message = body
        self.reason = str(decoded.get("reason", "")) if isinstance(decoded, dict) else ""
        super().__init__(f"{method} {path}: HTTP {status}: {str(message)[:300]}")

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409


class Kube:
    def __init__(self, server: str, context: ssl.SSLContext, token: str | None = None) -> None:
        parsed = urllib.parse.urlsplit(server)
        if parsed.scheme != "https" or not parsed.hostname:
            raise ValueError(f"only https servers are supported, not {server!r}")
        self.server = server
        self.host = parsed.hostname
        self.port = parsed.port or 443
        self.context = context
        self.token = token
        self._local = threading.local()

    @classmethod
    def from_kubeconfig(cls, path: Path) -> Kube:
        """The current context of a kubeconfig: CA and client certificate (inline data or
        files) or a bearer token, which is what the dev cluster's kubeconfigs hold."""
        config = yaml.safe_load(path.read_text())
        current = config.get("current-context")
        contexts = {c["name"]: c["context"] for c in config.get("contexts") or ()}
        context = contexts.get(current) if current else None
        if context is None:
            if len(contexts) != 1:
                raise ValueError(f"{path}: no current context")
            context = next(iter(contexts.values()))
        clusters = {c["name"]: c["cluster"] for c in config.get("clusters") or ()}
        users = {u["name"]: u.get("user") or {} for u in config.get("users") or ()}
        cluster = clusters[context["cluster"]]
        user = users.get(context.get("user"), {})
        ssl_context = ssl.create_default_context()
        if "certificate-authority-data" in cluster:
            ssl_context.load_verify_locations(
                cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
            )
        elif "certificate-authority" in cluster:
            ssl_context.load_verify_locations(cafile=cluster["certificate-authority"])
        if "client-certificate-data" in user:
            # ssl loads a key pair only from files: keep them in a private folder, only as
            # long as it takes to load them.
            folder = tempfile.mkdtemp(prefix="ppbench-")
            try:
                cert = Path(folder) / "client.crt"
                key = Path(folder) / "client.key"
                for target, field in ((cert, "client-certificate-data"),
                                      (key, "client-key-data")):
                    target.write_bytes(base64.b64decode(user[field]))
                    os.chmod(target, 0o600)
                ssl_context.load_cert_chain(str(cert), str(key))
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        elif "client-certificate" in user:
            ssl_context.load_cert_chain(user["client-certificate"], user.get("client-key"))
        return cls(str(cluster["server"]), ssl_context, user.get("token"))

    # -- plumbing ------------------------------------------------------------------------
    def _new_connection(self, timeout: float) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            self.host, self.port, context=self.context, timeout=timeout
        )

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": JSON, "User-Agent": "podpatterns-bench"}
        if content_type:
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    @staticmethod
    def url(path: str, query: Mapping[str, str] | Sequence[tuple[str, str]] | None) -> str:
        return path + ("?" + urllib.parse.urlencode(query) if query else "")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        content_type: str = JSON,
        timeout: float = 30.0,
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        url = self.url(path, query)
        for attempt in (1, 2):
            connection = getattr(self._local, "connection", None)
            reused = connection is not None
            if connection is None:
                connection = self._new_connection(timeout)
                self._local.connection = connection
            connection.timeout = timeout
            if connection.sock is not None:
                connection.sock.settimeout(timeout)
            try:
                connection.request(method, url, body=data,
                                   headers=self._headers(content_type if data else None))
                response = connection.getresponse()
                raw = response.read()
            except _STALE:
                connection.close()
                self._local.connection = None
                if attempt == 2 or not reused:
                    raise
                continue
            except BaseException:
                connection.close()
                self._local.connection = None
                raise
            if response.status >= 400:
                raise KubeError(response.status, method, path, raw.decode(errors="replace"))
            return json.loads(raw) if raw else None
        raise AssertionError("unreachable")

    def get(self, path: str, **query: str) -> Any:
        return self.request("GET", path, query=query or None)

    def create(self, path: str, body: Mapping[str, Any]) -> Any:
        return self.request("POST", path, dict(body))

    def delete(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        return self.request("DELETE", path, dict(body) if body is not None else None)

    def watch(self, path: str, query: Mapping[str, str], *, timeout: float) -> WatchStream:
        """A watch: one decoded event per line until the server ends the stream. `timeout`
        bounds the wait for each line, so a stalled connection ends in an error."""
        connection = self._new_connection(timeout)
        try:
            connection.request("GET", self.url(path, query), headers=self._headers(None))
            response = connection.getresponse()
        except BaseException:
            connection.close()
            raise
        if response.status >= 400:
            body = response.read().decode(errors="replace")
            connection.close()
            raise KubeError(response.status, "WATCH", path, body)
        return WatchStream(connection, response)

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


class WatchStream:
    """The events of one watch request; `close()` from another thread ends the iteration
    at once instead of waiting for the next event."""

    def __init__(self, connection: http.client.HTTPSConnection,
                 response: http.client.HTTPResponse) -> None:
        self.connection = connection
        self.response = response
        self.closed = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        try:
            while not self.closed:
                line = self.response.readline()
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        except Exception:
            if self.closed:
                return  # the reader was woken up on purpose
            raise
        finally:
            self.connection.close()

    def close(self) -> None:
        """Wake the reading thread: shutting the socket down ends its blocked read, and it
        closes the connection itself (closing it from here races with http.client)."""
        self.closed = True
        sock = self.connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
