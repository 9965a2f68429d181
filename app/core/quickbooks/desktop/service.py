"""The QuickBooks Web Connector's SOAP service, hosted by PayDesk.

The Web Connector (installed next to QuickBooks Desktop, set up with PayDesk's ``.qwc`` file)
calls this service on its schedule. It speaks SOAP 1.1, document/literal, in the namespace
``http://developer.intuit.com/``, with a ``SOAPAction`` header naming the method:

* ``serverVersion`` → PayDesk's version; ``clientVersion(strVersion)`` → ``""`` (go on).
* ``authenticate(strUserName, strPassword)`` → ``[ticket, ""]`` (use the company file open in
  QuickBooks), ``[ticket, path]`` (open that file), ``["", "nvu"]`` (wrong user or password),
  ``[ticket, "none"]`` (nothing to do).
* ``sendRequestXML(ticket, strHCPResponse, strCompanyFileName, qbXMLCountry, qbXMLMajorVers,
  qbXMLMinorVers)`` → the next qbXML message ("" = nothing; then ``getLastError``).
* ``receiveResponseXML(ticket, response, hresult, message)`` → percent done, 0–100; negative
  means an error (the Web Connector then asks ``getLastError``).
* ``connectionError(ticket, hresult, message)`` → ``"done"``; ``getLastError(ticket)`` → the
  message to show in the Web Connector; ``closeConnection(ticket)`` → a closing message.
* ``GET …?wsdl`` → the WSDL.

Each ticket holds one :class:`~.session.CompanyFileSession`. A new ``authenticate`` ends any
earlier unfinished session (its Web Connector died): a payment whose answer never came is
looked up by its reference before it is sent again.

:class:`WebConnectorServer` serves it: plain HTTP only on a loopback address (QuickBooks on the
same PC), HTTPS with the MSP's certificate and key otherwise (docs/quickbooks-desktop.md).
:class:`ServiceStatus` is the live status the setup page shows; it is kept in memory and in
the ``quickbooks_desktop.status`` setting, so another PayDesk window can read it
(:func:`read_status`).

Threads: the server answers each HTTP request on its own thread; the service serialises the
calls of all tickets with one lock (the Web Connector makes one call at a time anyway).
"""

from __future__ import annotations

import hmac
import logging
import secrets
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any, ClassVar, Self
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from lxml import etree
from sqlalchemy import Engine

from app import __version__
from app.core.clock import utcnow
from app.core.config import get_setting, set_setting
from app.core.credentials import CredentialStore, SecretName
from app.core.net import is_loopback_host
from app.core.quickbooks.desktop.channel import CONNECTION_SETTING
from app.core.quickbooks.desktop.postings import PostingQueue
from app.core.quickbooks.desktop.session import CompanyFileSession

__all__ = [
    "SOAP_NS",
    "STATUS_SETTING",
    "WC_NS",
    "ServiceStatus",
    "WebConnectorServer",
    "WebConnectorService",
    "read_status",
    "start_service",
]

log = logging.getLogger(__name__)

WC_NS = "http://developer.intuit.com/"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
STATUS_SETTING = "quickbooks_desktop.status"
MAX_BODY = 64 * 1024 * 1024  # a qbXML answer of a few thousand invoices is a few MB

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=True)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


# --- status --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceStatus:
    """What the setup page shows about the Web Connector service."""

    #: stopped | waiting | connected | error
    state: str = "stopped"
    url: str | None = None
    company_file: str | None = None
    company_name: str | None = None
    last_exchange_at: datetime | None = None
    message: str | None = None

    def describe(self) -> str:
        """One line: "Waiting for the Web Connector", "Connected to company file …"."""
        last = ""
        if self.last_exchange_at is not None:
            last = f" Last exchange at {self.last_exchange_at.astimezone():%Y-%m-%d %H:%M}."
        if self.state == "stopped":
            return "The Web Connector service is not running." + last
        if self.state == "error":
            return f"{self.message or 'The last Web Connector update failed.'}{last}"
        if self.state == "connected":
            name = self.company_file or self.company_name or "the open company file"
            return f"Connected to company file {name}." + last
        return "Waiting for the Web Connector." + last

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["last_exchange_at"] = (self.last_exchange_at.isoformat()
                                    if self.last_exchange_at else None)
        return data

    @classmethod
    def from_json(cls, data: Any) -> ServiceStatus:
        if not isinstance(data, dict):
            return cls()
        last = data.get("last_exchange_at")
        return cls(state=str(data.get("state") or "stopped"), url=data.get("url"),
                   company_file=data.get("company_file"),
                   company_name=data.get("company_name"),
                   last_exchange_at=datetime.fromisoformat(last) if last else None,
                   message=data.get("message"))


def read_status(engine: Engine) -> ServiceStatus:
    """The last status any PayDesk on this database recorded (for the setup page)."""
    return ServiceStatus.from_json(get_setting(engine, STATUS_SETTING, None))


# --- the service ---------------------------------------------------------------------------


@dataclass
class _Ticket:
    session: CompanyFileSession
    started: bool = False
    company_file: str | None = None
    closed: bool = False
    #: Answered "none": nothing to do (QuickBooks Desktop is not connected in PayDesk).
    idle: bool = False


class SoapFault(Exception):
    def __init__(self, message: str, *, code: str = "soap:Client") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class WebConnectorService:
    """The Web Connector's methods over one database (see the module docstring).

    ``password`` is read when a Web Connector authenticates (from the keychain: pass
    ``lambda: credentials.get(SecretName.QUICKBOOKS_DESKTOP_PASSWORD)``), never stored here.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        username: str,
        password: Callable[[], str | None],
        company_file: str = "",
        queue: PostingQueue | None = None,
        page_size: int = 500,
        clock: Callable[[], datetime] = utcnow,
        on_status: Callable[[ServiceStatus], None] | None = None,
    ) -> None:
        self.engine = engine
        self.username = username
        self._password = password
        self.company_file = company_file
        self.queue = queue
        self.page_size = page_size
        self.clock = clock
        self._on_status = on_status
        self._lock = threading.RLock()
        self._tickets: dict[str, _Ticket] = {}
        self._last_errors: dict[str, str] = {}
        self._status = ServiceStatus(state="waiting")
        self._status_saved_at = 0.0
        self.sessions_finished: list[CompanyFileSession] = []

    # --- status ------------------------------------------------------------------------------
    @property
    def status(self) -> ServiceStatus:
        with self._lock:
            return self._status

    def set_status(self, *, force: bool = False, **changes: Any) -> None:
        with self._lock:
            previous = self._status
            self._status = replace(previous, **changes)
            state_changed = previous.state != self._status.state
            now = time.monotonic()
            # Exchanges come many per second during a big read: save at most every 2 s.
            if force or state_changed or now - self._status_saved_at > 2.0:
                self._status_saved_at = now
                set_setting(self.engine, STATUS_SETTING, self._status.to_json(),
                            actor="QuickBooks Web Connector", audit=False)
            status = self._status
        if self._on_status is not None:
            self._on_status(status)

    # --- the methods -------------------------------------------------------------------------
    def serverVersion(self) -> str:
        return f"PayDesk {__version__}"

    def clientVersion(self, strVersion: str = "") -> str:
        return ""

    def authenticate(self, strUserName: str, strPassword: str) -> list[str]:
        expected = self._password()
        user_ok = hmac.compare_digest(strUserName.strip().lower().encode(),
                                      self.username.strip().lower().encode())
        password_ok = bool(expected) and hmac.compare_digest(
            strPassword.encode(), (expected or "").encode())
        if not (user_ok and password_ok):
            log.warning("Web Connector sign-in refused (wrong user name or password)")
            self.set_status(state="error", force=True, message=(
                "The Web Connector signed in with a wrong user name or password. In the Web "
                "Connector, enter the password PayDesk showed when it saved the .qwc file."
                if expected else
                "The Web Connector's password is not in this computer's keychain. Save the "
                ".qwc file again and enter the new password in the Web Connector."))
            return ["", "nvu"]
        if not get_setting(self.engine, CONNECTION_SETTING, None):
            # QuickBooks Desktop was disconnected in PayDesk: "none" = nothing to do, and the
            # Web Connector says so without an error.
            ticket = secrets.token_hex(16)
            with self._lock:
                self._tickets[ticket] = _Ticket(CompanyFileSession(
                    self.engine, queue=self.queue, page_size=self.page_size,
                    clock=self.clock), started=True, closed=True, idle=True)
            self.set_status(state="waiting", last_exchange_at=self.clock(), force=True, message=(
                "QuickBooks Desktop is not connected in PayDesk, so the Web Connector was told "
                "there is nothing to do."))
            return [ticket, "none"]
        with self._lock:
            for old_ticket, old in list(self._tickets.items()):
                if not old.closed:
                    old.session.abandon("a new Web Connector session started")
                self._tickets.pop(old_ticket, None)
            ticket = secrets.token_hex(16)
            self._tickets[ticket] = _Ticket(CompanyFileSession(
                self.engine, queue=self.queue, page_size=self.page_size, clock=self.clock))
        self.set_status(state="connected", last_exchange_at=self.clock(), message=None)
        return [ticket, self.company_file]

    def _ticket(self, ticket: str) -> _Ticket:
        found = self._tickets.get(ticket)
        if found is None:
            raise SoapFault("This Web Connector session has ended; the Web Connector will "
                            "start a new one at its next update.")
        return found

    def sendRequestXML(self, ticket: str, strHCPResponse: str = "",
                       strCompanyFileName: str = "", qbXMLCountry: str = "",
                       qbXMLMajorVers: int | str = 0,
                       qbXMLMinorVers: int | str = 0) -> str:
        with self._lock:
            entry = self._ticket(ticket)
            session = entry.session
            if not entry.started:
                entry.started = True
                entry.company_file = strCompanyFileName or None
                session.start(strHCPResponse or None, country=qbXMLCountry or None)
            request = session.next_request()
            error = session.error
        self.set_status(state="connected" if error is None else "error",
                        company_file=entry.company_file,
                        company_name=session.outcome.company_name,
                        last_exchange_at=self.clock(), message=error)
        if request is None:
            with self._lock:
                self._last_errors[ticket] = error or "PayDesk has nothing more to do."
            return ""
        return request

    def receiveResponseXML(self, ticket: str, response: str = "",
                           hresult: str = "", message: str = "") -> int:
        with self._lock:
            entry = self._ticket(ticket)
            session = entry.session
            if hresult:
                # QuickBooks could not run the request: its outcome is unknown.
                session.abandon(f"QuickBooks reported {hresult}: {message}")
                text = ("QuickBooks could not process PayDesk's request "
                        f"({message or hresult}). PayDesk will try again at the next update.")
                session.outcome.error = text
                self._last_errors[ticket] = text
                percent = -101
            else:
                percent = session.take_response(response)
                if percent < 0:
                    self._last_errors[ticket] = session.error or "PayDesk stopped."
        self.set_status(state="error" if percent < 0 else "connected",
                        last_exchange_at=self.clock(),
                        company_name=session.outcome.company_name,
                        message=self._last_errors.get(ticket) if percent < 0 else None)
        return percent

    def connectionError(self, ticket: str, hresult: str = "",
                        message: str = "") -> str:
        with self._lock:
            entry = self._tickets.get(ticket)
            text = _connection_message(hresult, message)
            if entry is not None:
                entry.session.abandon(f"the Web Connector reported {hresult}")
                entry.session.outcome.error = text
                entry.closed = True
                self.sessions_finished.append(entry.session)
            self._last_errors[ticket] = text
        self.set_status(state="error", last_exchange_at=self.clock(), message=text, force=True)
        return "done"

    def getLastError(self, ticket: str) -> str:
        with self._lock:
            return self._last_errors.get(ticket, "PayDesk has nothing more to do.")

    def closeConnection(self, ticket: str) -> str:
        with self._lock:
            entry = self._tickets.pop(ticket, None)
            self._last_errors.pop(ticket, None)
            if entry is None:
                return "OK"
            if entry.idle:
                return "Nothing to do: QuickBooks Desktop is not connected in PayDesk."
            if not entry.closed:
                entry.session.abandon("the Web Connector closed the connection")
                entry.closed = True
                self.sessions_finished.append(entry.session)
            outcome = entry.session.outcome
        if outcome.error:
            self.set_status(state="error", message=outcome.error, force=True,
                            last_exchange_at=self.clock())
            return outcome.error
        self.set_status(state="waiting", message=None, force=True,
                        last_exchange_at=self.clock())
        return (f"PayDesk read {outcome.invoices_read} invoices and posted "
                f"{outcome.posted} payments.")

    # --- SOAP --------------------------------------------------------------------------------
    _METHODS: ClassVar[dict[str, tuple[tuple[str, ...], str]]] = {
        "serverVersion": ((), "string"),
        "clientVersion": (("strVersion",), "string"),
        "authenticate": (("strUserName", "strPassword"), "array"),
        "sendRequestXML": (("ticket", "strHCPResponse", "strCompanyFileName", "qbXMLCountry",
                            "qbXMLMajorVers", "qbXMLMinorVers"), "string"),
        "receiveResponseXML": (("ticket", "response", "hresult", "message"), "int"),
        "connectionError": (("ticket", "hresult", "message"), "string"),
        "getLastError": (("ticket",), "string"),
        "closeConnection": (("ticket",), "string"),
    }

    def handle_soap(self, body: bytes, soap_action: str | None = None) -> bytes:
        """Answer one SOAP request (the envelope's bytes) with the response envelope."""
        try:
            root = etree.fromstring(body, _PARSER)
        except etree.XMLSyntaxError as exc:
            raise SoapFault(f"The request is not XML: {exc}") from exc
        envelope_body = root.find(f"{{{SOAP_NS}}}Body")
        if root.tag != f"{{{SOAP_NS}}}Envelope" or envelope_body is None:
            raise SoapFault("The request is not a SOAP 1.1 envelope.")
        calls = [c for c in envelope_body if isinstance(c.tag, str)]
        if not calls:
            raise SoapFault("The SOAP body is empty.")
        call = calls[0]
        qname = etree.QName(call)
        if qname.namespace != WC_NS or qname.localname not in self._METHODS:
            raise SoapFault(f"PayDesk's Web Connector service has no method {qname.text}.")
        if soap_action is not None:
            action = soap_action.strip().strip('"')
            if action and action != WC_NS + qname.localname:
                raise SoapFault(f"The SOAPAction {action} does not match {qname.localname}.")
        names, kind = self._METHODS[qname.localname]
        arguments: dict[str, Any] = {}
        for child in call:
            if isinstance(child.tag, str):
                local = etree.QName(child).localname
                if local in names:
                    arguments[local] = child.text or ""
        result = getattr(self, qname.localname)(**arguments)
        return _envelope(qname.localname, result, kind)

    def wsgi(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI application: POST = SOAP, GET ?wsdl = the WSDL."""
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "GET":
            if "wsdl" in environ.get("QUERY_STRING", "").lower():
                url = _request_url(environ)
                return _reply(start_response, "200 OK", wsdl(url), "text/xml; charset=utf-8")
            return _reply(start_response, "200 OK",
                          b"PayDesk's QuickBooks Web Connector service. Add PayDesk's .qwc "
                          b"file to the QuickBooks Web Connector to use it.\n",
                          "text/plain; charset=utf-8")
        if method != "POST":
            return _reply(start_response, "405 Method Not Allowed", b"", "text/plain")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length <= 0 or length > MAX_BODY:
            return _reply(start_response, "400 Bad Request", _fault("soap:Client",
                          "The request has no body or is too large."))
        body = environ["wsgi.input"].read(length)
        try:
            answer = self.handle_soap(body, environ.get("HTTP_SOAPACTION"))
        except SoapFault as fault:
            return _reply(start_response, "500 Internal Server Error",
                          _fault(fault.code, fault.message))
        except Exception:
            log.exception("Web Connector service: a call failed")
            return _reply(start_response, "500 Internal Server Error", _fault(
                "soap:Server", "PayDesk could not answer; see PayDesk's log."))
        return _reply(start_response, "200 OK", answer)


def _connection_message(hresult: str, message: str) -> str:
    code = hresult.strip().lower()
    if code in ("0x80040408", "0x8004041d", "0x80040416", "0x80040414"):
        return ("The Web Connector could not open QuickBooks or the company file (QuickBooks "
                "may be closed, busy with a dialog, or open with another company file). Open "
                "the company file in QuickBooks and leave it at the home screen; PayDesk will "
                f"try again at the next update. ({message or hresult})")
    return (f"The Web Connector lost its connection to QuickBooks ({message or hresult}). "
            "PayDesk will try again at the next update.")


def _reply(start_response: StartResponse, status: str, body: bytes,
           content_type: str = "text/xml; charset=utf-8") -> list[bytes]:
    start_response(status, [("Content-Type", content_type),
                            ("Content-Length", str(len(body)))])
    return [body]


def _request_url(environ: Environ) -> str:
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
    return f"{scheme}://{host}{environ.get('PATH_INFO') or '/'}"


def _envelope(method: str, result: Any, kind: str) -> bytes:
    envelope = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS})
    body = etree.SubElement(envelope, f"{{{SOAP_NS}}}Body")
    response = etree.SubElement(body, f"{{{WC_NS}}}{method}Response",
                                nsmap={None: WC_NS})  # type: ignore[dict-item]
    value = etree.SubElement(response, f"{{{WC_NS}}}{method}Result")
    if kind == "array":
        for item in result:
            etree.SubElement(value, f"{{{WC_NS}}}string").text = str(item)
    else:
        value.text = str(result)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def _fault(code: str, message: str) -> bytes:
    envelope = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS})
    body = etree.SubElement(envelope, f"{{{SOAP_NS}}}Body")
    fault = etree.SubElement(body, f"{{{SOAP_NS}}}Fault")
    etree.SubElement(fault, "faultcode").text = code
    etree.SubElement(fault, "faultstring").text = message
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


_WSDL_TEMPLATE = Path(__file__).with_name("QBWebConnectorSvc.wsdl")


def wsdl(url: str) -> bytes:
    """The service's WSDL with its address set to ``url``."""
    tree = etree.parse(str(_WSDL_TEMPLATE), _PARSER)
    for address in tree.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address"):
        address.set("location", url)
    return etree.tostring(tree, xml_declaration=True, encoding="utf-8")


# --- the server ----------------------------------------------------------------------------


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("Web Connector service: " + format, *args)


class WebConnectorServer:
    """Serves a :class:`WebConnectorService` on a background thread.

    Plain HTTP is only for a loopback address (QuickBooks on this PC). For QuickBooks on another
    PC, pass ``certfile`` and ``keyfile`` (a certificate the Web Connector's PC trusts, for the
    name in the ``.qwc``'s AppURL); without them a non-loopback address is refused.
    """

    def __init__(self, service: WebConnectorService, *, host: str = "127.0.0.1",
                 port: int = 0, path: str = "/qbwc", certfile: Path | None = None,
                 keyfile: Path | None = None) -> None:
        if certfile is None and not is_loopback_host(host):
            raise ValueError(
                "The Web Connector service only listens without encryption on this computer "
                "(localhost). To let a Web Connector on another PC reach it, give PayDesk a "
                "certificate and its key (see the QuickBooks Desktop setup notes).")
        self.service = service
        self.host = host
        self.path = path if path.startswith("/") else "/" + path
        self._certfile = certfile
        self._keyfile = keyfile
        self._server = make_server(host, port, self._app, server_class=_ThreadingServer,
                                   handler_class=_QuietHandler)
        if certfile is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(str(certfile), str(keyfile) if keyfile else None)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self._certfile is not None else "http"
        host = "localhost" if is_loopback_host(self.host) else self.host
        return f"{scheme}://{host}:{self.port}{self.path}"

    def _app(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if (environ.get("PATH_INFO") or "/").rstrip("/") != self.path.rstrip("/"):
            return _reply(start_response, "404 Not Found", b"Not found\n", "text/plain")
        if self._certfile is not None:
            environ["wsgi.url_scheme"] = "https"  # wsgiref does not know the socket is TLS
        return self.service.wsgi(environ, start_response)

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="qbwc-service", daemon=True)
        self._thread.start()
        self.service.set_status(state="waiting", url=self.url, force=True, message=None)
        return self

    def stop(self) -> None:
        """Stop serving (a second call does nothing)."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:  # shutdown() waits for a serve loop that must exist
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
        self.service.set_status(state="stopped", force=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start_service(
    engine: Engine,
    credentials: CredentialStore,
    *,
    on_status: Callable[[ServiceStatus], None] | None = None,
    host: str | None = None,
    port: int | None = None,
) -> WebConnectorServer:
    """Start the Web Connector service for the stored connection (see :mod:`.qwc`): on the
    port of its AppURL, on loopback for ``http://localhost``, on every address with its
    certificate for ``https`` to another PC. Stop it with :meth:`WebConnectorServer.stop`.
    Raises ``LookupError`` before the .qwc was saved, ``ValueError`` / ``OSError`` when it
    cannot listen (the message says why)."""
    from urllib.parse import urlsplit

    from app.core.quickbooks.desktop.qwc import load_connection

    connection = load_connection(engine)
    if connection is None:
        raise LookupError("Save PayDesk's .qwc file in Setup first; it sets up the Web "
                          "Connector service.")
    parts = urlsplit(connection.app_url)
    remote = not is_loopback_host(parts.hostname or "")
    service = WebConnectorService(
        engine, username=connection.username, company_file=connection.company_file,
        password=lambda: credentials.get(SecretName.QUICKBOOKS_DESKTOP_PASSWORD),
        on_status=on_status)
    server = WebConnectorServer(
        service,
        host=host or ("0.0.0.0" if remote else "127.0.0.1"),  # noqa: S104 - TLS, see above
        port=parts.port or (443 if parts.scheme == "https" else 80) if port is None else port,
        path=parts.path or "/qbwc",
        certfile=Path(connection.certfile) if connection.certfile else None,
        keyfile=Path(connection.keyfile) if connection.keyfile else None)
    return server.start()
