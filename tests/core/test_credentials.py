"""Secrets go to the keychain and nowhere else; without a keychain they live only in memory."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from app.core.credentials import CredentialStore, SecretName
from tests.keyring_memory import MemoryKeyring


def test_secret_is_stored_in_the_keychain(memory_keyring: MemoryKeyring) -> None:
    store = CredentialStore("abc")
    store.set(SecretName.AUTOTASK_SECRET, "s3cret-value")
    assert memory_keyring.entries == {("PayDesk:abc", "autotask.secret"): "s3cret-value"}
    assert CredentialStore("abc").get(SecretName.AUTOTASK_SECRET) == "s3cret-value"
    assert CredentialStore("other").get(SecretName.AUTOTASK_SECRET) is None
    store.delete(SecretName.AUTOTASK_SECRET)
    assert not store.has(SecretName.AUTOTASK_SECRET)
    store.delete(SecretName.AUTOTASK_SECRET)  # deleting twice is harmless


def test_repr_names_no_secret() -> None:
    store = CredentialStore("abc")
    store.set(SecretName.STRIPE_SECRET_KEY, "sk_test_abcdefgh123")
    assert "sk_test" not in repr(store)


def test_without_a_secure_keychain_secrets_stay_in_memory(tmp_path: Path) -> None:
    keyring.set_keyring(fail.Keyring())
    store = CredentialStore("abc")
    assert not store.is_secure
    assert "ask for them again" in store.describe_backend()
    store.set(SecretName.AUTOTASK_SECRET, "only-in-memory")
    assert store.get(SecretName.AUTOTASK_SECRET) == "only-in-memory"
    assert CredentialStore("abc").get(SecretName.AUTOTASK_SECRET) is None
    for path in tmp_path.rglob("*"):
        assert b"only-in-memory" not in path.read_bytes()


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        CredentialStore("abc").set(SecretName.AUTOTASK_SECRET, "")
