"""The stand-in's hosted forms: Accept Hosted (pay) and Accept Customer (save a method).

Plain HTML and CSS, no scripts. The browser posts the page token to ``/payment/payment`` or
``/customer/addPayment`` (as a merchant's page posts it to Authorize.Net), and the form posts
back to the same address. Numbers typed into the form are read once and never echoed back.
"""

from __future__ import annotations

import html
from string import Template

__all__ = ["render_form", "render_message"]

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f5f7;
margin:0;color:#1d2733}
main{max-width:460px;margin:32px auto;background:#fff;border:1px solid #d8dee4;
border-radius:8px;padding:24px 28px}
header{display:flex;align-items:center;justify-content:space-between;gap:12px}
h1{font-size:20px;margin:0}
.badge{background:#fff4d6;color:#7a5600;border:1px solid #e8cf8a;border-radius:10px;
padding:2px 10px;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.amount{font-size:30px;font-weight:600;margin:18px 0 4px}
.purpose{color:#4a5a6a;margin:6px 0 18px}
fieldset{border:0;padding:0;margin:0 0 12px}
legend{font-weight:600;margin-bottom:8px}
label{display:block;font-size:13px;color:#4a5a6a;margin:10px 0 4px}
input,select{width:100%;box-sizing:border-box;padding:9px 10px;border:1px solid #c3ccd5;
border-radius:6px;font-size:15px}
input[aria-invalid=true]{border-color:#c0392b}
.row{display:flex;gap:10px}.row>div{flex:1}
.check{display:flex;gap:8px;align-items:center;margin:14px 0}.check input{width:auto}
button{width:100%;margin-top:18px;padding:11px;font-size:16px;border:0;border-radius:6px;
background:#1a5fb4;color:#fff;cursor:pointer}
.error{background:#fdecea;border:1px solid #f5c2bd;color:#8e1f14;padding:10px 12px;
border-radius:6px}
.foot{margin-top:16px;font-size:12px;color:#6b7886}
details{margin-top:14px;font-size:13px;color:#4a5a6a}
table{border-collapse:collapse;margin-top:6px}td{padding:2px 10px 2px 0}
"""

_PAGE = Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>$title</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>$style</style></head><body><main>$body</main></body></html>""")

_TESTS = (
    ("4111 1111 1111 1111", "Visa, approved"),
    ("5424 0000 0000 0015", "Mastercard, approved"),
    ("ZIP 46282", "declined"),
    ("ZIP 46205", "declined: address (AVS) mismatch"),
    ("Card code 901", "declined: card code mismatch"),
    ("4222 2222 2222 2 + amount", "the reason code equal to the dollar amount"),
)


def render_form(*, kind: str, token: str, merchant: str, amount: str | None,
                description: str, method: str, allow_bank: bool, offer_save: bool,
                values: dict[str, str] | None = None, problem: str | None = None,
                problem_field: str | None = None) -> str:
    """The card or bank form for one hosted token (``kind``: ``payment`` or ``profile``)."""
    esc = html.escape
    values = values or {}

    def field(name: str, label: str, *, kind_: str = "text", auto: str = "off",
              echo: bool = True) -> str:
        value = esc(values.get(name, "")) if echo else ""
        invalid = ' aria-invalid="true" autofocus' if name == problem_field else ""
        return (f'<label for="{name}">{label}</label><input id="{name}" name="{name}" '
                f'type="{kind_}" autocomplete="{auto}" value="{value}"{invalid}>')

    scope = ("for the amount shown" if kind == "payment"
             else "for invoices I owe, as agreed with them")
    if method == "bank":
        fields = (
            '<fieldset><legend>Bank account</legend>'
            + field("nameOnAccount", "Name on account")
            + '<label for="accountType">Account type</label><select id="accountType" '
            'name="accountType"><option value="checking">Checking</option>'
            '<option value="savings">Savings</option><option value="businessChecking">'
            'Business checking</option></select>'
            + field("routingNumber", "Routing number")
            + field("accountNumber", "Account number", echo=False)
            + '<div class="check"><input type="checkbox" id="authorize" name="authorize" '
            f'value="yes"><label for="authorize">I authorize {esc(merchant)} to debit this '
            f'account electronically {scope}.</label></div></fieldset>'
        )
    else:
        fields = (
            '<fieldset><legend>Card</legend>'
            + field("cardNumber", "Card number", auto="cc-number", echo=False)
            + '<div class="row"><div>' + field("expirationDate", "Expiry (MM/YY)",
                                                 auto="cc-exp")
            + '</div><div>' + field("cardCode", "Card code", auto="cc-csc", echo=False)
            + "</div></div></fieldset>"
        )
    fields += (
        '<fieldset><legend>Billing</legend><div class="row"><div>'
        + field("firstName", "First name", auto="given-name") + "</div><div>"
        + field("lastName", "Last name", auto="family-name") + "</div></div>"
        + field("zip", "ZIP code", auto="postal-code") + "</fieldset>"
    )
    if offer_save:
        fields += ('<div class="check"><input type="checkbox" id="saveProfile" '
                   'name="saveProfile" value="yes" checked><label for="saveProfile">Save this '
                   'payment method for future invoices</label></div>')
    switch = ""
    if allow_bank:
        other = "card" if method == "bank" else "bank"
        text = "Pay by card instead" if method == "bank" else "Pay from a bank account"
        switch = (f'<form method="post" action=""><input type="hidden" name="token" '
                  f'value="{esc(token)}"><input type="hidden" name="method" value="{other}">'
                  f'<button type="submit" id="switch_{other}" style="background:#e7eef8;'
                  f'color:#1a5fb4">{text}</button></form>')
    error = f'<p class="error" id="form_error" role="alert">{esc(problem)}</p>' if problem else ""
    heading = f'<div class="amount" id="amount">{esc(amount)}</div>' if amount else ""
    action = (f"Pay {esc(amount)}" if kind == "payment" and amount else "Save")
    rows = "".join(f"<tr><td>{esc(a)}</td><td>{esc(b)}</td></tr>" for a, b in _TESTS)
    badge = '<span class="badge" id="test_mode_badge">Test mode</span>'
    body = f"""<header><h1>{esc(merchant)}</h1>{badge}</header>
{heading}<p class="purpose" id="purpose">{esc(description)}</p>
{error}
<form method="post" action="" id="payment_form" autocomplete="on" novalidate>
<input type="hidden" name="token" value="{esc(token)}">
<input type="hidden" name="method" value="{esc(method)}">
<input type="hidden" name="submitted" value="yes">
{fields}
<button type="submit" id="submit">{action}</button>
</form>
{switch}
<div class="foot">Secured by the Authorize.Net stand-in. Your details go to the payment gateway
only.</div>
<details><summary>Test numbers</summary><table>{rows}</table>
<p>Any future expiry date and any card code.</p></details>"""
    return _PAGE.substitute(title=f"{esc(merchant)} — secure payment form", style=_STYLE,
                            body=body)


def render_message(title: str, text: str, *, link: str | None = None,
                   link_text: str = "Continue") -> str:
    esc = html.escape
    more = (f'<p><a id="continue" href="{esc(link)}">{esc(link_text)}</a></p>'
            if link else "")
    body = (f'<h1 id="message_title">{esc(title)}</h1>'
            f'<p class="purpose" id="message_text">{esc(text)}</p>{more}')
    return _PAGE.substitute(title=esc(title), style=_STYLE, body=body)
