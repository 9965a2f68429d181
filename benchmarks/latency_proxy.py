"""A TCP proxy for the benchmarks: PostgreSQL as a shared server on the office network.

``LatencyProxy(host, port, round_trip_ms)`` listens on 127.0.0.1 (port 0), forwards every
connection to the real server and holds each chunk for half the round trip in each
direction (a propagation delay: chunks keep their order and are not serialised behind one
another). It also counts **round trips**: a client turn that follows an answer from the
server (or opens the conversation) is one — the waits a screen sits through on a real
network, whatever the number of bytes.

It runs in a process of its own so that its work is not counted in the benchmark's CPU time.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from multiprocessing.sharedctypes import Synchronized
from typing import Any


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    delay: float,
    turn: dict[str, str],
    side: str,
    counter: Synchronized[int] | None,
) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                writer.close()
                return
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(65_536)
            if data and counter is not None and turn["last"] != side:
                with counter.get_lock():
                    counter.value += 1
            if data:
                turn["last"] = side
            queue.put_nowait((time.monotonic() + delay, data))
            if not data:
                break
    finally:
        with contextlib.suppress(Exception):
            await sender


async def _serve(
    target: tuple[str, int],
    delay: float,
    counter: Synchronized[int],
    ready: Any,
) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(*target)
        turn = {"last": "server"}
        await asyncio.gather(
            _pipe(client_r, server_w, delay, turn, "client", counter),
            _pipe(server_r, client_w, delay, turn, "server", None),
            return_exceptions=True,
        )

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    ready.send(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


def _run(target: tuple[str, int], delay: float, counter: Synchronized[int], ready: Any) -> None:
    asyncio.run(_serve(target, delay, counter, ready))


class LatencyProxy:
    """The proxy process. ``port`` is where to connect; ``round_trips`` counts so far."""

    def __init__(self, host: str, port: int, round_trip_ms: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._counter: Synchronized[int] = context.Value("q", 0)
        receive, send = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_run,
            args=((host, port), round_trip_ms / 2000.0, self._counter, send),
            daemon=True,
        )
        self._process.start()
        self.port: int = receive.recv()

    @property
    def round_trips(self) -> int:
        return int(self._counter.value)

    def close(self) -> None:
        self._process.terminate()
        self._process.join(5)
