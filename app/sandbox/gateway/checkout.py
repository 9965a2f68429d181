"""The sandbox's hosted checkout page: the form where a client types a card or bank account.

This stands in for Stripe Checkout. The page is plain HTML and CSS (no scripts), posts back
to the sandbox, and reads each number exactly once: brand, last 4, expiry and the test
outcome are kept, the number itself is dropped (and never echoed back into the form).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from string import Template
from typing import Any

from app.core.money import Money
from app.sandbox.gateway.cards import (
    bank_outcome,
    card_outcome,
    luhn_valid,
    routing_number_valid,
)
from app.sandbox.gateway.state import BankDetails, CardDetails

__all__ = [
    "FormProblem",
    "read_bank_form",
    "read_card_form",
    "render_checkout_page",
    "render_message_page",
]


@dataclass(frozen=True, slots=True)
class FormProblem(Exception):
    """A field the person has to fix; ``field`` is the input's name."""

    field: str
    message: str


def _digits(text: str) -> str:
    return re.sub(r"[\s-]", "", text or "")


def read_card_form(form: dict[str, str], today: datetime | None = None) -> CardDetails:
    """Check a card form the way Stripe's page does and keep only what may be kept."""
    number = _digits(form.get("card_number", ""))
    if not number:
        raise FormProblem("card_number", "Your card number is incomplete.")
    if not number.isdigit() or not luhn_valid(number):
        raise FormProblem("card_number", "Your card number is incorrect.")
    outcome = card_outcome(number)
    expiry = re.sub(r"\s", "", form.get("card_expiry", ""))
    match = re.fullmatch(r"(\d{1,2})/?(\d{2}|\d{4})", expiry)
    if not match:
        raise FormProblem("card_expiry", "Your card's expiration date is incomplete.")
    month, year = int(match.group(1)), int(match.group(2))
    if year < 100:
        year += 2000
    if not 1 <= month <= 12:
        raise FormProblem("card_expiry", "Your card's expiration date is invalid.")
    now = today or datetime.now(UTC)
    if (year, month) < (now.year, now.month):
        raise FormProblem("card_expiry", "Your card's expiration year is in the past.")
    if year > now.year + 50:
        raise FormProblem("card_expiry", "Your card's expiration year is invalid.")
    cvc = form.get("card_cvc", "").strip()
    cvc_length = 4 if outcome.brand == "amex" else 3
    if not cvc.isdigit() or len(cvc) != cvc_length:
        raise FormProblem("card_cvc", "Your card's security code is incomplete.")
    postal = form.get("postal_code", "").strip()
    if not postal:
        raise FormProblem("postal_code", "Your postal code is incomplete.")
    name = form.get("cardholder_name", "").strip() or None
    details = CardDetails(
        brand=outcome.brand,
        last4=number[-4:],
        exp_month=month,
        exp_year=year,
        funding=outcome.funding,
        outcome=outcome,
        name=name,
        postal_code=postal[:20],
    )
    del number, cvc  # read once, never kept
    return details


def read_bank_form(form: dict[str, str]) -> BankDetails:
    """Check a US bank account form and keep routing number, last 4 and the holder."""
    holder = form.get("account_holder_name", "").strip()
    if not holder:
        raise FormProblem("account_holder_name", "Enter the name on the bank account.")
    routing = _digits(form.get("routing_number", ""))
    if not routing_number_valid(routing):
        raise FormProblem("routing_number", "The routing number is not valid. It has 9 digits.")
    account = _digits(form.get("account_number", ""))
    if not account.isdigit() or not 4 <= len(account) <= 17:
        raise FormProblem("account_number", "The account number is not valid.")
    if _digits(form.get("account_number_confirm", "")) != account:
        raise FormProblem("account_number_confirm", "The account numbers do not match.")
    holder_type = form.get("account_holder_type", "")
    if holder_type not in ("individual", "company"):
        raise FormProblem("account_holder_type", "Choose who holds the account.")
    account_type = form.get("account_type", "")
    if account_type not in ("checking", "savings"):
        raise FormProblem("account_type", "Choose checking or savings.")
    if form.get("mandate") != "accepted":
        raise FormProblem("mandate", "Accept the debit authorization to continue.")
    details = BankDetails(
        routing_number=routing,
        last4=account[-4:],
        holder_name=holder[:255],
        holder_type=holder_type,
        account_type=account_type,
        outcome=bank_outcome(account),
    )
    del account
    return details


_STYLE = """
:root { color-scheme: light; --ink:#1a1f36; --muted:#5c6578; --line:#d5dae3; --accent:#2454d6;
        --error:#b42318; --bg:#f4f6fa; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font: 15px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 460px; margin: 40px auto; background:#fff; border:1px solid var(--line);
       border-radius: 10px; padding: 28px 32px 24px; box-shadow: 0 2px 10px rgba(20,30,60,.06); }
header { display:flex; justify-content:space-between; align-items:baseline; gap:12px; }
h1 { font-size: 18px; margin: 0; }
.badge { font-size: 11px; font-weight: 700; letter-spacing: .06em; text-transform: uppercase;
         color:#8a4b00; background:#fff1d6; border:1px solid #f3c979; border-radius: 4px;
         padding: 2px 6px; white-space: nowrap; }
.amount { font-size: 28px; font-weight: 600; margin: 18px 0 2px; }
.purpose { color: var(--muted); margin: 6px 0 18px; }
nav { display:flex; border:1px solid var(--line); border-radius: 8px; overflow:hidden;
      margin-bottom: 18px; }
nav a { flex:1; text-align:center; padding: 9px 0; color: var(--muted); text-decoration:none; }
nav a[aria-current="page"] { background: #eef2fd; color: var(--accent); font-weight: 600; }
label { display:block; font-size: 13px; font-weight: 600; margin: 12px 0 4px; }
input[type=text], select { width:100%; padding: 9px 11px; font-size: 15px; color: var(--ink);
       border:1px solid var(--line); border-radius: 6px; background:#fff; }
input:focus, select:focus { outline: 2px solid #b9c8f5; border-color: var(--accent); }
input[aria-invalid="true"] { border-color: var(--error); }
.row { display:flex; gap: 12px; } .row > div { flex: 1; }
.error { color: var(--error); background:#fef3f2; border:1px solid #fecdca; border-radius: 6px;
         padding: 10px 12px; margin: 0 0 12px; }
.mandate { display:flex; gap: 10px; align-items:flex-start; font-size: 12.5px;
           color: var(--muted); margin-top: 14px; font-weight: 400; }
.mandate input { margin-top: 3px; }
button { width:100%; margin-top: 20px; padding: 11px; font-size: 16px; font-weight: 600;
         color:#fff; background: var(--accent); border: 0; border-radius: 6px; cursor:pointer; }
button:hover { background:#1d46b5; }
.foot { display:flex; justify-content:space-between; margin-top: 16px; font-size: 12.5px;
        color: var(--muted); }
.foot a { color: var(--muted); }
details { margin-top: 16px; font-size: 12.5px; color: var(--muted); }
details table { border-collapse: collapse; margin-top: 6px; }
details td { padding: 1px 10px 1px 0; font-variant-numeric: tabular-nums; }
.done { text-align:center; padding: 12px 0; }
"""

_PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>$title</title>
<style>$style</style>
</head>
<body>
<main>
$body
</main>
</body>
</html>
"""
)

_CARD_FIELDS = """
<div><label for="cardholder_name">Name on card</label>
<input type="text" id="cardholder_name" name="cardholder_name" autocomplete="cc-name"
       value="$cardholder_name"></div>
<div><label for="card_number">Card number</label>
<input type="text" id="card_number" name="card_number" inputmode="numeric"
       autocomplete="cc-number" placeholder="1234 1234 1234 1234" maxlength="23"
       $invalid_card_number required></div>
<div class="row">
<div><label for="card_expiry">Expiry</label>
<input type="text" id="card_expiry" name="card_expiry" inputmode="numeric" autocomplete="cc-exp"
       placeholder="MM / YY" maxlength="9" value="$card_expiry" $invalid_card_expiry required></div>
<div><label for="card_cvc">CVC</label>
<input type="text" id="card_cvc" name="card_cvc" inputmode="numeric" autocomplete="cc-csc"
       placeholder="123" maxlength="4" $invalid_card_cvc required></div>
</div>
<div><label for="postal_code">ZIP / postal code</label>
<input type="text" id="postal_code" name="postal_code" autocomplete="postal-code"
       maxlength="20" value="$postal_code" $invalid_postal_code required></div>
"""

_BANK_FIELDS = """
<div><label for="account_holder_name">Account holder name</label>
<input type="text" id="account_holder_name" name="account_holder_name" autocomplete="name"
       value="$account_holder_name" $invalid_account_holder_name required></div>
<div class="row">
<div><label for="account_holder_type">Account holder</label>
<select id="account_holder_type" name="account_holder_type">
<option value="company"$company_selected>Company</option>
<option value="individual"$individual_selected>Individual</option>
</select></div>
<div><label for="account_type">Account type</label>
<select id="account_type" name="account_type">
<option value="checking"$checking_selected>Checking</option>
<option value="savings"$savings_selected>Savings</option>
</select></div>
</div>
<div><label for="routing_number">Routing number</label>
<input type="text" id="routing_number" name="routing_number" inputmode="numeric"
       maxlength="9" placeholder="9 digits" value="$routing_number"
       $invalid_routing_number required></div>
<div><label for="account_number">Account number</label>
<input type="text" id="account_number" name="account_number" inputmode="numeric"
       maxlength="17" autocomplete="off" $invalid_account_number required></div>
<div><label for="account_number_confirm">Confirm account number</label>
<input type="text" id="account_number_confirm" name="account_number_confirm"
       inputmode="numeric" maxlength="17" autocomplete="off"
       $invalid_account_number_confirm required></div>
<label class="mandate"><input type="checkbox" id="mandate" name="mandate" value="accepted"
       $invalid_mandate>
<span>I authorize $merchant to debit the bank account above $mandate_scope, and, if
necessary, to credit it to correct an erroneous debit. This authorization stays in force
until I cancel it by notifying $merchant in writing.</span></label>
"""

_CARD_TESTS = (
    ("4242 4242 4242 4242", "succeeds"),
    ("4000 0000 0000 0002", "declined"),
    ("4000 0000 0000 9995", "insufficient funds"),
    ("4000 0000 0000 9987", "lost card"),
    ("4000 0000 0000 9979", "stolen card"),
    ("4000 0000 0000 0069", "expired card"),
    ("4000 0000 0000 0127", "incorrect CVC"),
    ("4000 0000 0000 0119", "processing error"),
    ("4000 0000 0000 0341", "saves, later charges decline"),
    ("4000 0027 6000 3184", "cardholder confirms each payment (3-D Secure)"),
)
_BANK_TESTS = (
    ("110000000 / 000123456789", "debit succeeds"),
    ("110000000 / 000222222227", "insufficient funds"),
    ("110000000 / 000111111113", "account closed"),
    ("110000000 / 000333333335", "debit not authorized"),
)

_FORM_KEYS = (
    "cardholder_name", "card_number", "card_expiry", "card_cvc", "postal_code",
    "account_holder_name", "routing_number", "account_number", "account_number_confirm",
    "mandate",
)  # fmt: skip

#: Fields that are re-shown after an error. Card and account numbers and the CVC never are.
_ECHOED = ("cardholder_name", "card_expiry", "postal_code", "account_holder_name",
           "routing_number")


def _amount_text(session: dict[str, Any]) -> str:
    amount, currency = session.get("amount_total"), session.get("currency")
    if amount is None or not currency:
        return ""
    return Money(int(amount), str(currency).upper()).format()


def render_checkout_page(
    session: dict[str, Any],
    *,
    merchant: str,
    test_mode: bool,
    method: str,
    form: dict[str, str] | None = None,
    problem: str | None = None,
    problem_field: str | None = None,
) -> str:
    """The form for one open checkout session, with an error above it when there is one."""
    form = form or {}
    types: list[str] = list(session.get("payment_method_types") or ["card"])
    if method not in types:
        method = types[0]
    esc = html.escape
    values: dict[str, str] = {k: esc(form.get(k, "")) if k in _ECHOED else "" for k in _FORM_KEYS}
    for key in _FORM_KEYS:
        values[f"invalid_{key}"] = 'aria-invalid="true" autofocus' if key == problem_field else ""
    holder_type = form.get("account_holder_type", "company")
    account_type = form.get("account_type", "checking")
    values.update(
        company_selected=" selected" if holder_type == "company" else "",
        individual_selected=" selected" if holder_type == "individual" else "",
        checking_selected=" selected" if account_type == "checking" else "",
        savings_selected=" selected" if account_type == "savings" else "",
        merchant=esc(merchant),
    )
    amount = _amount_text(session)
    paying = session["mode"] == "payment"
    values["mandate_scope"] = (
        f"for {esc(amount)}" if paying
        else "for amounts I owe on invoices from time to time"
    )
    fields = Template(_CARD_FIELDS if method == "card" else _BANK_FIELDS).substitute(values)

    tabs = ""
    if len(types) > 1:
        links = []
        for kind, label in (("card", "Card"), ("us_bank_account", "US bank account")):
            if kind in types:
                current = ' aria-current="page"' if kind == method else ""
                links.append(f'<a href="?method={kind}" id="tab_{kind}"{current}>{label}</a>')
        tabs = f"<nav aria-label=\"Payment method\">{''.join(links)}</nav>"

    if paying:
        heading = f'<div class="amount" id="amount">{esc(amount)}</div>'
        purpose = esc(session.get("_product_name") or "Payment")
        action = f"Pay {esc(amount)}"
    else:
        heading = ""
        purpose = (
            f"Save a card or bank account so that {esc(merchant)} can charge your invoices. "
            "Nothing is charged now."
        )
        action = "Save card" if method == "card" else "Save bank account"

    error = (f'<p class="error" id="form_error" role="alert">{esc(problem)}</p>'
             if problem else "")
    tests = _CARD_TESTS if method == "card" else _BANK_TESTS
    rows = "".join(f"<tr><td>{a}</td><td>{b}</td></tr>" for a, b in tests)
    note = ("Any future expiry date, any CVC and any postal code." if method == "card"
            else "Routing number / account number. Debits stay processing until settled.")
    hints = (f"<details><summary>Test numbers</summary><table>{rows}</table>"
             f"<p>{note}</p></details>" if test_mode else "")
    cancel = session.get("cancel_url") or f"/checkout/{session['id']}/canceled"
    badge = '<span class="badge" id="test_mode_badge">Test mode</span>' if test_mode else ""
    body = f"""<header><h1>{esc(merchant)}</h1>{badge}</header>
{heading}
<p class="purpose">{purpose}</p>
{tabs}
{error}
<form method="post" action="/checkout/{esc(session["id"])}" autocomplete="on" novalidate>
<input type="hidden" name="method" value="{method}">
{fields}
<button type="submit" id="submit">{action}</button>
</form>
<div class="foot"><span>Your details go to the payment gateway only.</span>
<a href="{esc(cancel)}" id="cancel">Cancel</a></div>
{hints}"""
    return _PAGE.substitute(title=f"{esc(merchant)} — secure payment form", style=_STYLE,
                            body=body)


def render_message_page(title: str, text: str) -> str:
    body = (f'<div class="done"><h1 id="message_title">{html.escape(title)}</h1>'
            f'<p class="purpose" id="message_text">{html.escape(text)}</p></div>')
    return _PAGE.substitute(title=html.escape(title), style=_STYLE, body=body)
