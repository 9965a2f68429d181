"""The emails' wording: one template per kind of email, editable by the MSP.

Defaults live here in code; the MSP's edits are a shared setting (``email.templates``:
``{key: {"subject": …, "body": …}}``), so every seat sends the same words. Templates are
rendered with Jinja2's **sandboxed** environment: the MSP's text can use ``{{ amount }}``,
``{% if %}`` and filters, but cannot reach into Python objects, files or the program — an
edited template is data, not code. Undefined names are errors (``StrictUndefined``), so a
misspelt ``{{ ammount }}`` is caught when the template is saved or previewed instead of
mailing a blank to a client.

Emails are plain text: what a bookkeeper types is what the client reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from babel.dates import format_date
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import Engine

from app.core.config import get_setting, set_setting

__all__ = [
    "TEMPLATES",
    "TEMPLATES_KEY",
    "EmailTemplate",
    "RenderedEmail",
    "TemplateProblem",
    "load_template",
    "long_date",
    "render",
    "render_template",
    "reset_template",
    "save_template",
]

TEMPLATES_KEY = "email.templates"


def long_date(value: date | datetime, locale: str = "en_US") -> str:
    """"March 4, 2026" (in ``locale``): how the emails write a date."""
    day = value.astimezone().date() if isinstance(value, datetime) else value
    return str(format_date(day, format="long", locale=locale))


class TemplateProblem(ValueError):
    """A template that cannot be rendered; the message says where and what to do."""


@dataclass(frozen=True, slots=True)
class EmailTemplate:
    """One kind of email: its defaults, and the names its text may use (with an example each,
    for the preview when no real data is at hand)."""

    key: str
    title: str
    description: str
    subject: str
    body: str
    example: Mapping[str, str]
    customized: bool = False


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    body: str


_COMMON = {
    "company_name": "Northwind IT Services",
    "organization": "Contoso Dental",
    "contact_name": "Maria Lopez",
}

_DEFAULTS: tuple[EmailTemplate, ...] = (
    EmailTemplate(
        key="receipt",
        title="Payment receipt",
        description="Sent to the contact who paid, with the PDF receipt, after a payment.",
        subject="Receipt {{ reference }} from {{ company_name }}",
        body=(
            "Hello {{ contact_name }},\n\n"
            "Thank you for your payment of {{ total }} to {{ company_name }} on {{ paid_on }}.\n\n"
            "It was applied to {{ invoices }}.\n"
            "{% if surcharge %}Credit card surcharge: {{ surcharge }}\n"
            "{{ surcharge_disclosure }}\n{% endif %}"
            "Paid with: {{ method }}\n\n"
            "The receipt is attached as a PDF. Please keep it for your records.\n\n"
            "{{ company_name }}\n"
        ),
        example={**_COMMON, "reference": "PD-1042", "total": "$1,236.00",
                 "paid_on": "March 4, 2026", "invoices": "invoices INV-2051 and INV-2052",
                 "surcharge": "$36.00",
                 "surcharge_disclosure": "A 3% surcharge applies to credit card payments.",
                 "method": "Visa •••• 4242"},
    ),
    EmailTemplate(
        key="refund_receipt",
        title="Refund receipt",
        description="Sent to the contact who paid, with the PDF receipt, after a refund.",
        subject="Refund of {{ refund_amount }} from {{ company_name }}",
        body=(
            "Hello {{ contact_name }},\n\n"
            "We have refunded {{ refund_amount }} of your payment {{ reference }} to "
            "{{ method }}. Depending on your bank it may take a few days to appear.\n\n"
            "The updated receipt is attached as a PDF.\n\n"
            "{{ company_name }}\n"
        ),
        example={**_COMMON, "reference": "PD-1042", "refund_amount": "$200.00",
                 "method": "Visa •••• 4242"},
    ),
    EmailTemplate(
        key="pay_link",
        title="Pay link",
        description="Sent from the Order Summary or the invoice page: a link to pay online.",
        subject="{{ company_name }}: pay {{ amount }} online",
        body=(
            "Hello {{ contact_name }},\n\n"
            "{% if message %}{{ message }}\n\n{% endif %}"
            "You can pay {{ amount }} for {{ invoices }} securely online:\n\n"
            "{{ link }}\n\n"
            "Thank you,\n{{ company_name }}\n"
        ),
        example={**_COMMON, "amount": "$1,200.00", "invoices": "invoice INV-2051",
                 "link": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3",
                 "message": "Here is the link we spoke about."},
    ),
    EmailTemplate(
        key="overdue_reminder",
        title="Overdue invoice reminder",
        description="Sent on the reminder schedule for an invoice past its due date.",
        subject="Reminder: invoice {{ invoice_number }} is {{ days_overdue }} days overdue",
        body=(
            "Hello {{ contact_name }},\n\n"
            "Our records show that invoice {{ invoice_number }} of {{ invoice_date }} was due on "
            "{{ due_date }} and {{ balance }} is still open.\n\n"
            "If you have already paid, thank you, and please disregard this reminder. "
            "Otherwise please contact us to arrange payment.\n\n"
            "{{ company_name }}\n"
        ),
        example={**_COMMON, "invoice_number": "INV-2051", "invoice_date": "February 1, 2026",
                 "due_date": "March 3, 2026", "balance": "$1,200.00", "days_overdue": "7"},
    ),
    EmailTemplate(
        key="autopay_upcoming",
        title="AutoPay: upcoming charge",
        description="Sent a few days before AutoPay charges a saved payment method.",
        subject="{{ company_name }} will charge {{ amount }} on {{ charge_date }}",
        body=(
            "Hello {{ contact_name }},\n\n"
            "As you authorized, {{ company_name }} will charge {{ amount }} to {{ method }} on "
            "{{ charge_date }} for {{ invoices }}.\n\n"
            "Nothing needs to be done. To change the payment method or stop AutoPay, reply to "
            "this email or call us before {{ charge_date }}.\n\n"
            "{{ company_name }}\n"
        ),
        example={**_COMMON, "amount": "$1,200.00", "method": "Visa •••• 4242",
                 "charge_date": "March 10, 2026", "invoices": "invoice INV-2051"},
    ),
    EmailTemplate(
        key="autopay_failed",
        title="AutoPay: charge failed",
        description="Sent when an AutoPay charge is declined.",
        subject="We could not charge {{ amount }} to {{ method }}",
        body=(
            "Hello {{ contact_name }},\n\n"
            "The AutoPay charge of {{ amount }} to {{ method }} for {{ invoices }} on "
            "{{ charge_date }} did not go through: {{ reason }}.\n\n"
            "{% if next_attempt %}We will try again on {{ next_attempt }}. {% endif %}"
            "Please update your payment method or contact us.\n\n"
            "{{ company_name }}\n"
        ),
        example={**_COMMON, "amount": "$1,200.00", "method": "Visa •••• 4242",
                 "charge_date": "March 10, 2026", "invoices": "invoice INV-2051",
                 "reason": "the card was declined", "next_attempt": "March 13, 2026"},
    ),
    EmailTemplate(
        key="test",
        title="Test email",
        description="Sent by Send Test Email to check the mail server settings.",
        subject="PayDesk test email from {{ company_name }}",
        body=(
            "This is a test email from PayDesk.\n\n"
            "If you can read it, PayDesk can send receipts, pay links and reminders through "
            "{{ server }}.\n"
        ),
        example={"company_name": _COMMON["company_name"], "server": "smtp.example.com:587"},
    ),
)

#: Every kind of email, by key, with its default wording.
TEMPLATES: Mapping[str, EmailTemplate] = {t.key: t for t in _DEFAULTS}

_ENVIRONMENT = SandboxedEnvironment(
    autoescape=False,  # plain-text emails: nothing is HTML
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=False,
)


def _overrides(engine: Engine) -> dict[str, Any]:
    raw = get_setting(engine, TEMPLATES_KEY)
    return raw if isinstance(raw, dict) else {}


def load_template(engine: Engine, key: str) -> EmailTemplate:
    """The template as the MSP set it (or the default). Raises ``KeyError`` for an unknown
    key."""
    default = TEMPLATES[key]
    edit = _overrides(engine).get(key)
    if not isinstance(edit, dict):
        return default
    return EmailTemplate(
        key=key, title=default.title, description=default.description,
        subject=str(edit.get("subject") or default.subject),
        body=str(edit.get("body") or default.body),
        example=default.example, customized=True,
    )


def render(subject: str, body: str, context: Mapping[str, object], *,
           title: str = "The template") -> RenderedEmail:
    """Render a subject and body with ``context``; raises :class:`TemplateProblem`."""
    try:
        rendered_subject = _ENVIRONMENT.from_string(subject).render(dict(context))
        rendered_body = _ENVIRONMENT.from_string(body).render(dict(context))
    except TemplateError as exc:
        raise TemplateProblem(
            f"{title} cannot be filled in: {exc.message or exc}. Check the names in double "
            "braces against the list under the template, or reset it to the default."
        ) from exc
    # A subject is one line, whatever the template made of it.
    return RenderedEmail(" ".join(rendered_subject.split()), rendered_body)


def render_template(engine: Engine, key: str, context: Mapping[str, object]) -> RenderedEmail:
    template = load_template(engine, key)
    return render(template.subject, template.body, context, title=f"The “{template.title}” "
                  "template")


def save_template(engine: Engine, key: str, subject: str, body: str,
                  actor: str | None = None) -> None:
    """Store the MSP's wording after checking it renders with the example values."""
    default = TEMPLATES[key]
    if not subject.strip() or not body.strip():
        raise TemplateProblem("A template needs a subject and a message.")
    render(subject, body, default.example, title=f"The “{default.title}” template")
    overrides = _overrides(engine)
    overrides[key] = {"subject": subject, "body": body}
    set_setting(engine, TEMPLATES_KEY, overrides, actor)


def reset_template(engine: Engine, key: str, actor: str | None = None) -> None:
    overrides = _overrides(engine)
    if overrides.pop(key, None) is not None:
        set_setting(engine, TEMPLATES_KEY, overrides, actor)
