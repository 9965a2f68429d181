"""Element order for the Authorize.Net requests the stand-in answers.

Authorize.Net's JSON API is its XML API underneath: each JSON object is turned into an XML
element and checked against the schema (``AnetApiSchema.xsd``), where children are a
*sequence* — the same elements in another order are refused with error ``E00003``. The
stand-in checks the same way, so a client that builds its objects in the wrong order fails
here as it would against Authorize.Net.

Each type lists its children in schema order, with the child's own type when it is an object
the stand-in checks further (``None``: a plain value or an object it does not check).
"""

from __future__ import annotations

from typing import Any

__all__ = ["REQUEST_TYPES", "SchemaError", "check_order"]

_NS = "AnetApi/xml/v1/schema/AnetApiSchema.xsd"

_Children = tuple[tuple[str, str | None], ...]


def _base(*rest: tuple[str, str | None]) -> _Children:
    return (("merchantAuthentication", "merchantAuthentication"), ("clientId", None),
            ("refId", None), *rest)


TYPES: dict[str, _Children] = {
    "merchantAuthentication": (
        ("name", None), ("transactionKey", None), ("sessionToken", None), ("password", None),
        ("impersonationAuthentication", None), ("fingerPrint", None), ("clientKey", None),
        ("accessToken", None), ("mobileDeviceId", None),
    ),
    "transactionRequest": (
        ("transactionType", None), ("amount", None), ("currencyCode", None),
        ("payment", "payment"), ("profile", "profileTransaction"), ("solution", None),
        ("callId", None), ("terminalNumber", None), ("authCode", None), ("refTransId", None),
        ("splitTenderId", None), ("order", "order"), ("lineItems", None), ("tax", None),
        ("duty", None), ("shipping", None), ("taxExempt", None), ("poNumber", None),
        ("customer", "customerData"), ("billTo", "address"), ("shipTo", None),
        ("customerIP", None), ("cardholderAuthentication", None), ("retail", None),
        ("employeeId", None), ("transactionSettings", "settings"),
        ("userFields", "userFields"), ("surcharge", None), ("merchantDescriptor", None),
        ("subMerchant", None), ("tip", None), ("processingOptions", None),
        ("subsequentAuthInformation", None), ("otherTax", None), ("shipFrom", None),
        ("authorizationIndicatorType", None),
    ),
    "payment": (
        ("creditCard", "creditCard"), ("bankAccount", "bankAccount"), ("trackData", None),
        ("encryptedTrackData", None), ("payPal", None), ("opaqueData", None), ("emv", None),
        ("dataSource", None),
    ),
    "creditCard": (
        ("cardNumber", None), ("expirationDate", None), ("cardCode", None),
        ("isPaymentToken", None), ("cryptogram", None), ("tokenRequestorName", None),
        ("tokenRequestorId", None), ("tokenRequestorEci", None),
    ),
    "bankAccount": (
        ("accountType", None), ("routingNumber", None), ("accountNumber", None),
        ("nameOnAccount", None), ("echeckType", None), ("bankName", None), ("checkNumber", None),
    ),
    "profileTransaction": (
        ("createProfile", None), ("customerProfileId", None),
        ("paymentProfile", "paymentProfileRef"), ("shippingProfileId", None),
    ),
    "paymentProfileRef": (("paymentProfileId", None), ("cardCode", None)),
    "order": (
        ("invoiceNumber", None), ("description", None), ("discountAmount", None),
        ("taxIsAfterDiscount", None), ("totalTaxTypeCode", None),
        ("purchaserVATRegistrationNumber", None), ("merchantVATRegistrationNumber", None),
        ("vatInvoiceReferenceNumber", None), ("purchaserCode", None),
        ("summaryCommodityCode", None),
        ("purchaseOrderDateUTC", None), ("supplierOrderReference", None),
        ("authorizedContactName", None), ("cardAcceptorRefNumber", None),
        ("amexDataTAA1", None), ("amexDataTAA2", None), ("amexDataTAA3", None),
        ("amexDataTAA4", None),
    ),
    "customerData": (("type", None), ("id", None), ("email", None)),
    "address": (
        ("firstName", None), ("lastName", None), ("company", None), ("address", None),
        ("city", None), ("state", None), ("zip", None), ("country", None),
        ("phoneNumber", None), ("faxNumber", None), ("email", None),
    ),
    "settings": (("setting", "setting"),),
    "setting": (("settingName", None), ("settingValue", None)),
    "userFields": (("userField", "userField"),),
    "userField": (("name", None), ("value", None)),
    "sorting": (("orderBy", None), ("orderDescending", None)),
    "paging": (("limit", None), ("offset", None)),
    "customerProfile": (
        ("merchantCustomerId", None), ("description", None), ("email", None),
        ("paymentProfiles", None), ("shipToList", None), ("profileType", None),
    ),
    "customerPaymentProfile": (
        ("customerType", None), ("billTo", "address"), ("payment", "payment"),
        ("driversLicense", None), ("taxId", None), ("defaultPaymentProfile", None),
        ("subsequentAuthInformation", None), ("excludeFromAccountUpdater", None),
        ("customerPaymentProfileId", None),
    ),
}

#: Request name → its children.
REQUEST_TYPES: dict[str, _Children] = {
    "authenticateTestRequest": (("merchantAuthentication", "merchantAuthentication"),),
    "getMerchantDetailsRequest": _base(),
    "createTransactionRequest": _base(("transactionRequest", "transactionRequest")),
    "getTransactionDetailsRequest": _base(("transId", None)),
    "getUnsettledTransactionListRequest": _base(
        ("status", None), ("sorting", "sorting"), ("paging", "paging")),
    "getTransactionListRequest": _base(
        ("batchId", None), ("sorting", "sorting"), ("paging", "paging")),
    "getSettledBatchListRequest": _base(
        ("includeStatistics", None), ("firstSettlementDate", None),
        ("lastSettlementDate", None)),
    "getTransactionListForCustomerRequest": _base(
        ("customerProfileId", None), ("customerPaymentProfileId", None),
        ("sorting", "sorting"), ("paging", "paging")),
    "createCustomerProfileRequest": _base(
        ("profile", "customerProfile"), ("validationMode", None)),
    "getCustomerProfileRequest": _base(
        ("customerProfileId", None), ("merchantCustomerId", None), ("email", None),
        ("unmaskExpirationDate", None), ("includeIssuerInfo", None)),
    "createCustomerPaymentProfileRequest": _base(
        ("customerProfileId", None), ("paymentProfile", "customerPaymentProfile"),
        ("validationMode", None)),
    "updateCustomerPaymentProfileRequest": _base(
        ("customerProfileId", None), ("paymentProfile", "customerPaymentProfile"),
        ("validationMode", None)),
    "deleteCustomerPaymentProfileRequest": _base(
        ("customerProfileId", None), ("customerPaymentProfileId", None)),
    "getHostedProfilePageRequest": _base(
        ("customerProfileId", None), ("hostedProfileSettings", "settings")),
    "getHostedPaymentPageRequest": _base(
        ("transactionRequest", "transactionRequest"), ("hostedPaymentSettings", "settings")),
}


class SchemaError(ValueError):
    """A request the schema refuses; ``str()`` is Authorize.Net's E00003 wording."""


def check_order(parent: str, value: Any, children: _Children) -> None:
    """Raise :class:`SchemaError` when ``value``'s keys are unknown or out of order."""
    if not isinstance(value, dict):
        return
    names = [name for name, _ in children]
    position = 0
    for key in value:
        if key not in names[position:]:
            expected = ", ".join(f"'{_NS}:{n}'" for n in names[position:position + 6])
            raise SchemaError(
                f"The element '{parent}' in namespace '{_NS}' has invalid child element "
                f"'{key}' in namespace '{_NS}'. List of possible elements expected: "
                f"{expected or 'none'}.")
        position = names.index(key, position) + 1
        child_type = dict(children)[key]
        if child_type is None:
            continue
        child = value[key]
        items = child if isinstance(child, list) else [child]
        for item in items:
            check_order(key, item, TYPES[child_type])
