"""The payment pipeline enforces the surcharge rules where money moves: a surcharge for a
client in a state on the MSP's no-surcharge list is refused before the gateway is called,
even when the request claims one (a stale dialog, another seat's old rules)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select, update

from app.core.money import Money
from app.core.payments import PaymentRefused, SurchargeSettings, save_surcharge_settings
from app.core.storage.engine import session_scope
from app.core.storage.models import Organization, Payment
from tests.integration.payments.support import PayWorld, pay_world

USD = "USD"


@pytest.fixture
def world(sqlite_engine: Engine) -> Iterator[PayWorld]:
    with pay_world(sqlite_engine, ["200.00"]) as running:
        yield running


def _in_state(world: PayWorld, state: str) -> None:
    with session_scope(world.engine) as s:
        s.execute(update(Organization).where(Organization.id == world.company_id)
                  .values(state=state, country=None))


def test_a_surcharge_for_a_client_where_it_is_not_allowed_is_refused(world: PayWorld) -> None:
    save_surcharge_settings(world.engine, SurchargeSettings(enabled=True, percent=Decimal(3)))
    _in_state(world, "Connecticut")
    plain = world.request(world.invoice_ids[:1])
    with_surcharge = replace(plain, surcharge=Money(600, USD))
    with pytest.raises(PaymentRefused, match="No surcharge may be added for clients in "
                                             "Connecticut"):
        world.pipeline.pay(with_surcharge)
    with session_scope(world.engine) as s:
        assert s.scalar(select(func.count()).select_from(Payment)) == 0

    # Once the MSP takes Connecticut off its list, the same surcharge is taken.
    save_surcharge_settings(world.engine, SurchargeSettings(
        enabled=True, percent=Decimal(3), not_allowed_in=("US-MA",)))
    outcome = world.pipeline.pay(with_surcharge)
    with session_scope(world.engine) as s:
        payment = s.get(Payment, outcome.payment_id)
        assert payment is not None and payment.surcharge_minor == 600
