"""``paydesk setup gateway stripe``: the wizard's gateway step from the command line, against
the gateway sandbox over HTTP, with the key from the environment (never the command line)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.__main__ import main
from app.core.config import Profile
from app.core.credentials import CredentialStore, SecretName
from app.core.gateways.connection import load_gateway_connection
from app.core.storage.engine import open_database
from app.sandbox.gateway import GatewaySandbox


@pytest.fixture
def gateway() -> Iterator[GatewaySandbox]:
    with GatewaySandbox() as running:
        yield running


def _setup(capsys: pytest.CaptureFixture[str], profile: Path, *extra: str
           ) -> tuple[int, str, str]:
    code = main(["--profile", str(profile), "setup", "gateway", "stripe", *extra])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


def test_connects_the_account_and_keeps_the_key_in_the_keychain_only(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        gateway: GatewaySandbox) -> None:
    monkeypatch.setenv("PAYDESK_STRIPE_SECRET_KEY", gateway.secret_key)
    profile = tmp_path / "p"
    code, out, err = _setup(capsys, profile, "--gateway-api-base", gateway.url,
                            "--return-url", "https://www.example.com/thanks")
    assert code == 0, err
    assert "Connected to Stripe" in out and "test mode" in out
    assert gateway.secret_key not in out + err
    opened = Profile.open(profile)
    engine = open_database(opened.database_url)
    try:
        connection = load_gateway_connection(engine)
        assert connection is not None and connection.verified_at is not None
        assert connection.return_url == "https://www.example.com/thanks"
    finally:
        engine.dispose()
    assert CredentialStore(opened.key).get(SecretName.STRIPE_SECRET_KEY) == gateway.secret_key
    assert gateway.secret_key.encode() not in (profile / "paydesk.sqlite3").read_bytes()


def test_a_wrong_key_saves_nothing(capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                   gateway: GatewaySandbox) -> None:
    monkeypatch.setenv("PAYDESK_STRIPE_SECRET_KEY", "sk_test_" + "x" * 24)
    code, _out, err = _setup(capsys, tmp_path / "p", "--gateway-api-base", gateway.url)
    assert code == 1 and "Nothing was saved" in err
    opened = Profile.open(tmp_path / "p")
    assert CredentialStore(opened.key).get(SecretName.STRIPE_SECRET_KEY) is None


@pytest.mark.parametrize(("key", "words"), [
    ("", "No Stripe secret key was given"),
    ("pk_test_123", "secret key"),
])
def test_a_missing_or_wrong_kind_of_key_is_explained(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        key: str, words: str) -> None:
    monkeypatch.setenv("PAYDESK_STRIPE_SECRET_KEY", key)
    code, _out, err = _setup(capsys, tmp_path / "p")
    assert code == 2 and words in err


def test_setup_without_a_step_still_names_what_it_needs(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["--profile", str(tmp_path / "p"), "setup", "--currency", "USD"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--autotask-username, --autotask-integration-code" in err


def test_authorize_net_is_connected_with_its_own_fields(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    from app.sandbox.authorizenet import AuthorizeNetSandbox

    with AuthorizeNetSandbox(merchant_name="Northwind IT Services") as sandbox:
        monkeypatch.setenv("PAYDESK_AUTHORIZENET_TRANSACTION_KEY", sandbox.transaction_key)
        profile = tmp_path / "p"
        code = main(["--profile", str(profile), "setup", "gateway", "authorize-net",
                     "--api-login-id", sandbox.api_login_id, "--environment", "sandbox",
                     "--gateway-api-base", sandbox.url])
        out = capsys.readouterr()
        assert code == 0, out.err
        assert "Connected to Authorize.Net" in out.out and "test mode" in out.out
        assert sandbox.transaction_key not in out.out + out.err
        opened = Profile.open(profile)
        engine = open_database(opened.database_url)
        try:
            connection = load_gateway_connection(engine)
            assert connection is not None and connection.gateway == "authorizenet"
            assert connection.setting("api_login_id") == sandbox.api_login_id
        finally:
            engine.dispose()
        stored = CredentialStore(opened.key).get("authorizenet.transaction_key")
        assert stored == sandbox.transaction_key


def test_authorize_net_refuses_a_login_id_with_spaces_and_saves_nothing(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.setenv("PAYDESK_AUTHORIZENET_TRANSACTION_KEY", "A1b2C3d4E5f6G7h8")
    code = main(["--profile", str(tmp_path / "p"), "setup", "gateway", "authorize-net",
                 "--api-login-id", "not an id"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--api-login-id" in err and "25 letters and digits" in err
