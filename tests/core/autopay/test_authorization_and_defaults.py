"""AutoPay's rules without a gateway: the authorization record (kept, printable, retained two
years after the last debit), one active rule per organization, and the MSP's defaults."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine

from app.core.autopay import (
    AutoPayRefused,
    RuleTerms,
    authorization_html,
    authorization_text,
    create_rule,
    load_authorization,
    revoke_rule,
    rules_for_organization,
)
from app.core.autopay.defaults import (
    AutoPayDefaults,
    load_autopay_defaults,
    save_autopay_defaults,
)
from app.core.autopay.emails import client_reason
from app.core.autopay.rules import retain_until
from app.core.config import get_setting, set_internal_currency
from app.core.money import Money
from app.core.storage.engine import session_scope
from app.core.storage.models import Organization, PaymentMethod

AGREED = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)


@pytest.fixture
def org(engine: Engine) -> tuple[int, int]:
    set_internal_currency(engine, "USD", actor="tests")
    with session_scope(engine) as s:
        s.add(Organization(id=77, name="Contoso Dental <Clinic>", is_active=True,
                           synced_at=AGREED))
        method = PaymentMethod(organization_id=77, gateway="stripe-test", token="pm_x",
                               method_type="us_bank_account", brand="Chase", last4="6789",
                               created_at=AGREED)
        s.add(method)
        s.flush()
        return 77, method.id


def _terms(org: tuple[int, int], **changes: object) -> RuleTerms:
    values: dict[str, object] = dict(
        organization_id=org[0], payment_method_id=org[1], timing="due_date",
        days_after_invoice=0, limit=Money(250_000, "USD"), covers_from=date(2026, 3, 1),
        signer_name="Maria Lopez", signer_email="maria@contoso.example", how="hosted_page",
        evidence="Mandate on the gateway's page, session cs_123", agreed_at=AGREED)
    values.update(changes)
    return RuleTerms(**values)  # type: ignore[arg-type]


def test_the_authorization_is_recorded_printable_and_kept_after_revoking(
        engine: Engine, org: tuple[int, int]) -> None:
    rule_id = create_rule(engine, _terms(org), company="Northwind IT", actor="dana@desk")
    [rule] = rules_for_organization(engine, org[0])
    record = load_authorization(engine, rule.authorization_id)
    assert record is not None
    text = authorization_text(record)
    for words in ("Maria Lopez <maria@contoso.example>", "2026-03-02 15:30 UTC",
                  "On the payment gateway's secure page", "session cs_123",
                  "Northwind IT to charge", "$2,500.00", "No surcharge",
                  "cancel this authorization at any time", "Keep this record until: 2028-03-02"):
        assert words in text, words
    page = authorization_html(record)
    assert "Contoso Dental &lt;Clinic&gt;" in page  # escaped, printable as rich text
    revoke_rule(engine, rule_id, "Client asked by email on 3 May", actor="dana@desk")
    kept = load_authorization(engine, rule.authorization_id)
    assert kept is not None and kept.revoked_at is not None
    assert "Revoked" in authorization_text(kept) and "3 May" in authorization_text(kept)
    assert kept.retain_until >= kept.revoked_at.date() + timedelta(days=730)
    # A new rule may now be made; the old authorization stays listed.
    create_rule(engine, _terms(org, limit=Money(300_000, "USD")), actor="dana@desk")
    rules = rules_for_organization(engine, org[0])
    assert [r.active for r in rules] == [True, False]


def test_incomplete_terms_are_refused_with_what_to_fix(engine: Engine,
                                                       org: tuple[int, int]) -> None:
    with pytest.raises(AutoPayRefused, match="who agreed"):
        create_rule(engine, _terms(org, signer_name="  "))
    with pytest.raises(AutoPayRefused, match="proof"):
        create_rule(engine, _terms(org, evidence=""))
    with pytest.raises(AutoPayRefused, match="most AutoPay may charge"):
        create_rule(engine, _terms(org, limit=Money(0, "USD")))
    with pytest.raises(AutoPayRefused, match="future"):
        create_rule(engine, _terms(org, agreed_at=datetime.now(UTC) + timedelta(days=2)))
    with pytest.raises(AutoPayRefused, match="Say why"):
        revoke_rule(engine, create_rule(engine, _terms(org)), " ")


def test_retention_is_two_years_after_the_latest_event() -> None:
    assert retain_until(AGREED, None, None) == date(2028, 3, 2)
    debit = datetime(2027, 6, 1, tzinfo=UTC)
    assert retain_until(AGREED, debit, None) == date(2029, 6, 1)
    leap = datetime(2028, 2, 29, tzinfo=UTC)
    assert retain_until(AGREED, leap, None) == date(2030, 2, 28)


def test_defaults_are_validated_and_stored_under_autopay_defaults(engine: Engine) -> None:
    assert load_autopay_defaults(engine).retry_after_days == (3, 7)
    save_autopay_defaults(engine, AutoPayDefaults(retry_after_days=(2, 4, 8), reminder_days=5),
                          actor="tests")
    assert get_setting(engine, "autopay.defaults")["retry_after_days"] == [2, 4, 8]
    assert load_autopay_defaults(engine).reminder_days == 5
    for bad, words in (((7, 3), "increase"), ((0,), "between"), ((1, 2, 3, 4, 5), "at most")):
        with pytest.raises(ValueError, match=words):
            save_autopay_defaults(engine, AutoPayDefaults(retry_after_days=bad))


def test_the_client_reads_the_decline_without_the_bookkeepers_advice() -> None:
    assert client_reason("The card was declined for insufficient funds. Ask the client for "
                         "another card.") == "the card was declined for insufficient funds"
    assert client_reason(None) == "the payment was declined"
