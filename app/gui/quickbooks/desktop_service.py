"""The QuickBooks Web Connector service while PayDesk's window is open.

QuickBooks Desktop is a *pull* channel: the Web Connector, on the PC where QuickBooks runs,
calls PayDesk's service on its schedule. When QuickBooks Desktop is set up (a ``.qwc`` file
was saved) and its address is on this computer (``http://localhost:PORT/…``), the window runs
the service (:class:`app.core.quickbooks.desktop.service.WebConnectorServer`) with the
outbox as its queue of postings. For QuickBooks on another PC the service needs a
certificate: ``paydesk qbwc serve --cert … --key …`` runs it (the status says so).

``ensure_service`` runs on a pool thread (it reads the database and binds a port); the
running server is kept in ``context.services.quickbooks_desktop``.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

from app.core.credentials import SecretName
from app.core.net import is_loopback_host
from app.gui.context import AppContext

__all__ = ["ensure_service", "stop_service"]

log = logging.getLogger(__name__)

_lock = threading.Lock()


def ensure_service(context: AppContext) -> str | None:
    """Start the service for the stored connection unless it runs already. Returns None when
    it runs (or QuickBooks Desktop is not set up), else a sentence saying why it does not."""
    from app.core.quickbooks.desktop.qwc import load_connection
    from app.core.quickbooks.desktop.service import WebConnectorServer, WebConnectorService

    connection = load_connection(context.engine)
    if connection is None:
        return None
    parts = urlsplit(connection.app_url)
    host = parts.hostname or ""
    if parts.scheme != "http" or not is_loopback_host(host):
        return ("The Web Connector's address is not on this computer, so the window does not "
                "answer it. Run `paydesk qbwc serve --cert … --key …` on this computer (see "
                "the QuickBooks Desktop notes).")
    with _lock:
        running = context.services.quickbooks_desktop
        if running is not None:
            if running.url == connection.app_url or parts.port == 0:
                return None
            running.stop()
            context.services.quickbooks_desktop = None
        credentials = context.credentials
        service = WebConnectorService(
            context.engine, username=connection.username,
            company_file=connection.company_file,
            password=lambda: credentials.get(SecretName.QUICKBOOKS_DESKTOP_PASSWORD))
        try:
            port = 80 if parts.port is None else parts.port  # 0: any free port
            server = WebConnectorServer(service, host="127.0.0.1", port=port,
                                        path=parts.path or "/qbwc")
        except OSError as exc:
            log.warning("The Web Connector service could not start: %s", exc)
            return (f"PayDesk could not listen at {connection.app_url} (another program uses "
                    "that port?). Choose another port in the address, save the .qwc file "
                    "again and add it to the Web Connector again.")
        server.start()
        context.services.quickbooks_desktop = server
    if parts.port == 0:
        # "Any free port": store the address in use, so the .qwc file and the Web Connector
        # name it.
        from app.core.quickbooks.desktop.qwc import connect

        connect(context.engine, app_url=server.url,
                run_every_minutes=connection.run_every_minutes,
                company_file=connection.company_file)
    return None


def stop_service(context: AppContext) -> None:
    with _lock:
        server, context.services.quickbooks_desktop = context.services.quickbooks_desktop, None
    if server is not None:
        server.stop()
