"""What every sandbox server shares: listening on a loopback address only, in a thread of its
own, started and stopped as a context manager.

A sandbox subclasses :class:`LoopbackServer`, calls ``super().__init__(host, port)``, says
what it is (``service_name``, for messages and the thread) and which server and request
handler classes answer (``server_classes``). Requests reach it as ``self.server.sandbox`` in
the handler.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self

__all__ = ["LoopbackHTTPServer", "LoopbackServer"]

log = logging.getLogger(__name__)


class LoopbackHTTPServer(ThreadingHTTPServer):
    """One thread a request; closing does not wait for requests still running."""

    daemon_threads = True
    block_on_close = False
    sandbox: Any


class LoopbackServer:
    #: What it is, for messages: "the Authorize.Net stand-in".
    service_name: ClassVar[str] = "the sandbox"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
            raise ValueError(f"{self.service_name} listens on loopback addresses only")
        self.host = host
        self.port = port
        self._server: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def server_classes(self) -> tuple[type[LoopbackHTTPServer], type[BaseHTTPRequestHandler]]:
        """The server (a :class:`LoopbackHTTPServer` subclass typing ``sandbox``) and the
        request handler that answer; the handler usually comes after the sandbox class in its
        module, so it is asked for when the server starts."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        """The base address, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError(f"{self.service_name} is not running")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> Self:
        server_class, handler = self.server_classes()
        server = server_class((self.host, self.port), handler)
        server.sandbox = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name=self.service_name.removeprefix("the "),
            kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        log.info("%s listening on %s", self.service_name.capitalize(), self.url)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url if self._server is not None else 'stopped'})"
