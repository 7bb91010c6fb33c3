"""A TCP relay on 127.0.0.1 in front of the API server that can stall its connections.

TLS passes through untouched (the API server's certificate covers 127.0.0.1, so a client
only needs another port in its kubeconfig). `freeze()` stops the flow of every connection
open at that moment, in both directions, without closing it: the way a NAT entry or a load
balancer that lost its state leaves a long-lived watch, silent but open. Connections
opened later flow normally, so a client that gives up on a stalled one and reconnects
gets through.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from pathlib import Path

import yaml


@dataclasses.dataclass(eq=False)
class _Connection:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    frozen: bool = False


class StallingRelay:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.opened = 0
        self._connections: list[_Connection] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> StallingRelay:
        self._thread.start()
        if not self._started.wait(timeout=30):
            raise AssertionError("the relay did not start within 30s")
        return self

    def freeze(self) -> int:
        """Stall every open connection for good; the number stalled."""
        with self._lock:
            for connection in self._connections:
                connection.frozen = True
            return len(self._connections)

    def opened_since(self, count: int) -> int:
        with self._lock:
            return self.opened - count

    def write_kubeconfig(self, source: Path, target: Path) -> Path:
        """`source` (same CA, same client certificate) with the relay as the server."""
        config = yaml.safe_load(source.read_text())
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = f"https://127.0.0.1:{self.port}"
        target.write_text(yaml.safe_dump(config))
        target.chmod(0o600)
        return target

    def stop(self) -> None:
        if self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=30)

    # --- inside the relay's thread -------------------------------------------------------

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._started.set()
        await self._stopping.wait()
        server.close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.client.close()
            connection.server.close()
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        connection = _Connection(client=writer, server=up_writer)
        with self._lock:
            self._connections.append(connection)
            self.opened += 1
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, connection),
                self._pipe(up_reader, writer, connection),
            )
        except asyncio.CancelledError:
            pass  # the relay is stopping; the task ends here either way
        finally:
            with self._lock:
                self._connections.remove(connection)

    async def _pipe(
        self, source: asyncio.StreamReader, target: asyncio.StreamWriter, connection: _Connection
    ) -> None:
        try:
            while True:
                data = await source.read(65536)
                while connection.frozen:
                    # Hold the bytes, keep the socket open, forward nothing, ever.
                    await asyncio.sleep(3600)
                if not data:
                    break
                target.write(data)
                await target.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            if not connection.frozen:
                target.close()
