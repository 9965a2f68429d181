"""The Web Connector connection: its setting, its password and the ``.qwc`` file.

The person adds PayDesk's ``.qwc`` file to the QuickBooks Web Connector (File > Add an
application) and types the password PayDesk showed. The file names PayDesk's service URL,
the user name, and an OwnerID and FileID that stay the same for this PayDesk database (kept in
the ``quickbooks_desktop.connection`` setting), so saving the file again never makes the Web
Connector see a new application. The password lives only in the keychain.

Threads: database and keychain calls; run off the GUI thread.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import Engine

from app.core.config import get_setting, set_setting
from app.core.credentials import CredentialStore, SecretName
from app.core.net import host_of, is_loopback_host, require_safe_url
from app.core.quickbooks.desktop.channel import CONNECTION_SETTING

__all__ = ["QwcConnection", "connect", "ensure_password", "load_connection", "qwc_xml",
           "write_qwc"]

APP_NAME = "PayDesk"
DEFAULT_USERNAME = "paydesk"


@dataclass(frozen=True)
class QwcConnection:
    app_url: str
    username: str
    owner_id: str
    file_id: str
    run_every_minutes: int = 15
    company_file: str = ""
    #: For a Web Connector on another PC: the certificate (PEM, with its chain) and its key
    #: file, for the host name in ``app_url``. Paths, not secrets: the files stay where the
    #: MSP keeps them.
    certfile: str | None = None
    keyfile: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"app_url": self.app_url, "username": self.username, "owner_id": self.owner_id,
                "file_id": self.file_id, "run_every_minutes": self.run_every_minutes,
                "company_file": self.company_file, "certfile": self.certfile,
                "keyfile": self.keyfile}


def load_connection(engine: Engine) -> QwcConnection | None:
    data = get_setting(engine, CONNECTION_SETTING, None)
    if not isinstance(data, dict) or not data.get("owner_id"):
        return None
    return QwcConnection(str(data["app_url"]), str(data["username"]), str(data["owner_id"]),
                         str(data["file_id"]), int(data.get("run_every_minutes") or 15),
                         str(data.get("company_file") or ""),
                         data.get("certfile") or None, data.get("keyfile") or None)


def connect(engine: Engine, *, app_url: str, run_every_minutes: int = 15,
            company_file: str = "", certfile: str | None = None, keyfile: str | None = None,
            actor: str | None = None) -> QwcConnection:
    """Store (or update) the connection; OwnerID, FileID and the user name are kept. An
    ``https`` address on another PC needs the certificate and key PayDesk will serve with."""
    require_safe_url(app_url, service="PayDesk's Web Connector service")
    if not is_loopback_host(host_of(app_url)) and not (certfile and keyfile):
        raise ValueError(
            "For a Web Connector on another PC, PayDesk needs the certificate and its key "
            "for the address " + host_of(app_url) + " (see the QuickBooks Desktop setup notes).")
    if not 1 <= run_every_minutes <= 1440:
        raise ValueError("The Web Connector runs every 1 to 1440 minutes.")
    previous = load_connection(engine)
    connection = QwcConnection(
        app_url=app_url,
        username=previous.username if previous else DEFAULT_USERNAME,
        owner_id=previous.owner_id if previous else "{" + str(uuid.uuid4()).upper() + "}",
        file_id=previous.file_id if previous else "{" + str(uuid.uuid4()).upper() + "}",
        run_every_minutes=run_every_minutes, company_file=company_file,
        certfile=certfile, keyfile=keyfile)
    set_setting(engine, CONNECTION_SETTING, connection.to_json(), actor=actor)
    return connection


def ensure_password(credentials: CredentialStore) -> str:
    """The Web Connector's password from the keychain, made (and stored) the first time."""
    password = credentials.get(SecretName.QUICKBOOKS_DESKTOP_PASSWORD)
    if not password:
        password = secrets.token_urlsafe(18)
        credentials.set(SecretName.QUICKBOOKS_DESKTOP_PASSWORD, password)
    return password


def qwc_xml(connection: QwcConnection) -> bytes:
    root = etree.Element("QBWCXML")

    def add(tag: str, text: str) -> None:
        etree.SubElement(root, tag).text = text

    add("AppName", APP_NAME)
    add("AppID", "")
    add("AppURL", connection.app_url)
    add("AppDescription", "PayDesk posts the payments it takes to QuickBooks Desktop and reads "
        "your customers and invoices to match them with Autotask's.")
    add("AppSupport", connection.app_url.rsplit("/", 1)[0] + "/")
    add("UserName", connection.username)
    add("OwnerID", connection.owner_id)
    add("FileID", connection.file_id)
    add("QBType", "QBFS")
    scheduler = etree.SubElement(root, "Scheduler")
    etree.SubElement(scheduler, "RunEveryNMinutes").text = str(connection.run_every_minutes)
    add("IsReadOnly", "false")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def write_qwc(path: Path, connection: QwcConnection) -> Path:
    """Write the ``.qwc`` file the person adds to the Web Connector."""
    path = Path(path)
    if path.suffix.lower() != ".qwc":
        path = path.with_suffix(".qwc")
    path.write_bytes(qwc_xml(connection))
    return path
