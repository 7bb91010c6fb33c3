"""A counting proxy between one process and the API server, for exact write budgets.

The API server's metrics count everybody's requests; on a shared cluster a quiet window
can still see other people's writes. Putting a proxy in front of the operator alone (its
kubeconfig points to the proxy, the proxy holds the real credentials) attributes every
request, watches included, to the operator, and records method and path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
import threading
import time
from pathlib import Path

import aiohttp
import kubernetes.client
import kubernetes.config
import yaml
from aiohttp import web

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "content-encoding",
}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_SESSION = web.AppKey("session", aiohttp.ClientSession)


@dataclasses.dataclass(frozen=True)
class Request:
    at: float
    method: str
    path: str

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


class CountingProxy:
    def __init__(self, kubeconfig: Path) -> None:
        config = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), client_configuration=config
        )
        self._upstream = config.host.rstrip("/")
        self._ssl = ssl.create_default_context(cafile=config.ssl_ca_cert)
        if not config.verify_ssl:
            self._ssl.check_hostname = False
            self._ssl.verify_mode = ssl.CERT_NONE
        if config.cert_file and config.key_file:
            self._ssl.load_cert_chain(config.cert_file, config.key_file)
        self._authorization = config.get_api_key_with_prefix(
            "BearerToken"
        ) or config.get_api_key_with_prefix("authorization")
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._stopping: asyncio.Event | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> CountingProxy:
        self._thread.start()
        if not self._started.wait(timeout=30):
            raise AssertionError("the counting proxy did not start within 30s")
        return self

    def write_kubeconfig(self, path: Path) -> Path:
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {"name": "proxy", "cluster": {"server": f"http://127.0.0.1:{self.port}"}}
                    ],
                    "users": [{"name": "proxy", "user": {}}],
                    "contexts": [
                        {"name": "proxy", "context": {"cluster": "proxy", "user": "proxy"}}
                    ],
                    "current-context": "proxy",
                }
            )
        )
        return path

    def since(self, moment: float) -> list[Request]:
        with self._lock:
            return [request for request in self.requests if request.at >= moment]

    def stop(self) -> None:
        if self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=30)

    # --- inside the proxy's thread ---------------------------------------------------------

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with aiohttp.ClientSession(timeout=timeout, auto_decompress=True) as session:
            app = web.Application()
            app[_SESSION] = session
            app.router.add_route("*", "/{tail:.*}", self._forward)
            # Open watches would otherwise hold the shutdown for a minute.
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._started.set()
            await self._stopping.wait()
            await runner.cleanup()
            # Watches still being relayed wait on the API server; end them with the proxy.
            others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self.requests.append(Request(time.monotonic(), request.method, request.path_qs))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        if self._authorization:
            headers["Authorization"] = self._authorization
        body = await request.read()
        session = request.app[_SESSION]
        async with session.request(
            request.method,
            self._upstream + request.path_qs,
            headers=headers,
            data=body or None,
            ssl=self._ssl,
        ) as upstream:
            response = web.StreamResponse(
                status=upstream.status,
                headers={k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP},
            )
            await response.prepare(request)
            try:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
            except (ConnectionResetError, aiohttp.ClientConnectionError):
                pass  # the client went away (a watch being closed): nothing to forward
            return response
