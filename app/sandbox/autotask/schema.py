"""The entities the Autotask sandbox serves: field metadata and picklists.

Modelled on what Autotask's `entityInformation/fields` returns for the entities PayDesk
reads: data types, which fields can be filtered on (`isQueryable`), which are read-only,
and picklists whose values are integer codes sent as strings. Autotask's field names are
camelCase; lookups here are case-insensitive, as in Autotask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ENTITIES", "PICKLISTS", "EntitySchema", "FieldSpec", "entity_schema"]

# Picklists: code -> label. Codes are deliberately not 1..N, like real tenants.
PICKLISTS: dict[str, dict[int, str]] = {
    "companyType": {1: "Customer", 2: "Lead", 3: "Prospect", 4: "Dead", 6: "Cancellation",
                    7: "Vendor", 8: "Partner"},
    "classification": {101: "Gold", 102: "Silver", 103: "Bronze", 107: "Managed Services",
                       109: "Break/Fix"},
    "contractType": {1: "Time and Materials", 3: "Fixed Price", 4: "Block Hours",
                     6: "Retainer", 7: "Recurring Service", 8: "Per Ticket"},
    "contractCategory": {11: "Managed Services", 12: "Project", 13: "Support", 14: "Hardware"},
    "contractStatus": {0: "Inactive", 1: "Active"},
    "ticketStatus": {1: "New", 5: "Complete", 7: "Waiting Customer", 8: "In Progress",
                     9: "Waiting Materials", 10: "Dispatched", 12: "Customer Note Added",
                     13: "Waiting Vendor", 16: "On Hold", 19: "Escalated"},
    "ticketPriority": {1: "High", 2: "Medium", 3: "Low", 4: "Critical"},
    "queueID": {29682833: "Client Portal", 29683481: "Post Sale", 29683482: "Monitoring Alert",
                29683487: "Level I Support", 29683488: "Level II Support"},
    "issueType": {2: "Hardware", 3: "Software", 4: "Network", 5: "Email", 6: "Security"},
    "billingItemType": {1: "Labor", 2: "Expense", 3: "Milestone", 4: "Recurring Contract",
                        6: "Product", 7: "Subscription", 8: "Service", 9: "Service Bundle"},
    "taxGroup": {1: "Standard", 2: "Reduced", 3: "Exempt"},
    "paymentTerm": {},  # filled from the PaymentTerms the sandbox generates
    "noteActionType": {1: "General", 2: "Phone Call", 3: "Email", 4: "Meeting",
                       15: "Payment", 16: "Billing"},
    "invoiceStatus": {1: "Draft", 2: "Sent", 3: "Paid", 4: "Void"},
    "countryID": {237: "United States", 38: "Canada", 236: "United Kingdom", 13: "Australia",
                  74: "France", 81: "Germany"},
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    data_type: str
    queryable: bool = True
    read_only: bool = True
    required: bool = False
    picklist: str | None = None
    length: int | None = None


@dataclass(frozen=True)
class EntitySchema:
    name: str
    fields: tuple[FieldSpec, ...]
    can_create: bool = False
    can_update: bool = False
    can_query: bool = True
    has_udfs: bool = False
    by_lower: dict[str, FieldSpec] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.by_lower.update({f.name.lower(): f for f in self.fields})

    def field(self, name: str) -> FieldSpec | None:
        return self.by_lower.get(name.lower())

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


def _f(name: str, data_type: str, **kw: object) -> FieldSpec:
    return FieldSpec(name, data_type, **kw)  # type: ignore[arg-type]


_W = {"read_only": False}

ENTITIES: dict[str, EntitySchema] = {}


def _add(schema: EntitySchema) -> None:
    ENTITIES[schema.name.lower()] = schema


_add(EntitySchema("Companies", (
    _f("id", "long"),
    _f("companyName", "string", required=True, length=100, **_W),
    _f("companyNumber", "string", length=50, **_W),
    _f("companyType", "integer", required=True, picklist="companyType", **_W),
    _f("classification", "integer", picklist="classification", **_W),
    _f("isActive", "boolean", **_W),
    _f("phone", "string", required=True, length=25, **_W),
    _f("fax", "string", length=25, **_W),
    _f("webAddress", "string", length=255, **_W),
    _f("address1", "string", length=150, **_W),
    _f("address2", "string", length=150, **_W),
    _f("city", "string", length=50, **_W),
    _f("state", "string", length=25, **_W),
    _f("postalCode", "string", length=20, **_W),
    _f("countryID", "integer", picklist="countryID", **_W),
    _f("ownerResourceID", "integer", required=True, **_W),
    _f("parentCompanyID", "integer", **_W),
    _f("taxRegionID", "integer", **_W),
    _f("taxID", "string", length=50, **_W),
    _f("currencyID", "integer", **_W),
    _f("createDate", "dateTime"),
    _f("lastActivityDate", "dateTime"),
    _f("lastTrackedModifiedDateTime", "dateTime"),
), can_create=True, can_update=True, has_udfs=True))

_add(EntitySchema("Contacts", (
    _f("id", "long"),
    _f("companyID", "integer", required=True, **_W),
    _f("firstName", "string", required=True, length=50, **_W),
    _f("lastName", "string", required=True, length=50, **_W),
    _f("emailAddress", "string", length=254, **_W),
    _f("phone", "string", length=25, **_W),
    _f("mobilePhone", "string", length=25, **_W),
    _f("title", "string", length=50, **_W),
    _f("isActive", "integer", required=True, **_W),
    _f("primaryContact", "boolean", **_W),
    _f("createDate", "dateTime"),
    _f("lastActivityDate", "dateTime"),
    _f("lastModifiedDate", "dateTime"),
), can_create=True, can_update=True, has_udfs=True))

_add(EntitySchema("Contracts", (
    _f("id", "long"),
    _f("companyID", "integer", required=True, **_W),
    _f("contactID", "integer", **_W),
    _f("contractName", "string", required=True, length=100, **_W),
    _f("contractNumber", "string", length=50, **_W),
    _f("contractType", "integer", required=True, picklist="contractType"),
    _f("contractCategory", "integer", picklist="contractCategory", **_W),
    _f("status", "integer", required=True, picklist="contractStatus", **_W),
    _f("startDate", "dateTime", required=True, **_W),
    _f("endDate", "dateTime", required=True, **_W),
    _f("estimatedRevenue", "decimal", **_W),
    _f("isDefaultContract", "boolean", **_W),
    _f("description", "string", length=2000, queryable=False, **_W),
    _f("lastModifiedDateTime", "dateTime"),
), can_create=True, can_update=True, has_udfs=True))

_add(EntitySchema("Tickets", (
    _f("id", "long"),
    _f("companyID", "integer", required=True, **_W),
    _f("contactID", "integer", **_W),
    _f("contractID", "integer", **_W),
    _f("ticketNumber", "string", length=50),
    _f("title", "string", required=True, length=255, **_W),
    _f("description", "string", length=8000, queryable=False, **_W),
    _f("status", "integer", required=True, picklist="ticketStatus", **_W),
    _f("priority", "integer", required=True, picklist="ticketPriority", **_W),
    _f("queueID", "integer", picklist="queueID", **_W),
    _f("issueType", "integer", picklist="issueType", **_W),
    _f("assignedResourceID", "integer", **_W),
    _f("createDate", "dateTime"),
    _f("dueDateTime", "dateTime", **_W),
    _f("completedDate", "dateTime"),
    _f("lastActivityDate", "dateTime"),
    _f("lastTrackedModificationDateTime", "dateTime"),
), can_create=True, can_update=True, has_udfs=True))

_add(EntitySchema("Invoices", (
    _f("id", "long"),
    _f("batchID", "integer"),
    _f("comments", "string", length=1000),
    _f("companyID", "integer"),
    _f("createDateTime", "dateTime"),
    _f("creatorResourceID", "integer"),
    _f("dueDate", "dateTime", queryable=False),
    _f("fromDate", "dateTime"),
    _f("toDate", "dateTime"),
    _f("invoiceDateTime", "dateTime"),
    _f("invoiceEditorTemplateID", "integer"),
    _f("invoiceNumber", "string", length=50, **_W),
    _f("invoiceTotal", "decimal"),
    _f("isVoided", "boolean"),
    _f("orderNumber", "string", length=50),
    _f("paidDate", "dateTime", **_W),
    _f("paymentTerm", "integer", picklist="paymentTerm"),
    _f("taxGroup", "integer", picklist="taxGroup"),
    _f("taxRegionName", "string", length=200),
    _f("totalTaxValue", "decimal"),
    _f("voidedByResourceID", "integer"),
    _f("voidedDate", "dateTime"),
    _f("webServiceDate", "dateTime", **_W),
    _f("invoiceStatus", "integer", picklist="invoiceStatus"),
), can_update=True))

_add(EntitySchema("BillingItems", (
    _f("id", "long"),
    _f("invoiceID", "integer"),
    _f("companyID", "integer"),
    _f("contractID", "integer"),
    _f("ticketID", "integer"),
    _f("itemName", "string", length=100),
    _f("description", "string", length=2000),
    _f("billingItemType", "integer", picklist="billingItemType"),
    _f("itemDate", "dateTime"),
    _f("postedDate", "dateTime"),
    _f("quantity", "decimal"),
    _f("rate", "decimal"),
    _f("extendedPrice", "decimal"),
    _f("taxDollars", "decimal"),
    _f("totalAmount", "decimal"),
    _f("ourCost", "decimal"),
    _f("webServiceDate", "dateTime", **_W),
), can_update=True))

_add(EntitySchema("PaymentTerms", (
    _f("id", "long"),
    _f("name", "string", length=100),
    _f("description", "string", length=500),
    _f("isActive", "boolean"),
    _f("paymentDueInDays", "integer"),
)))

_add(EntitySchema("Currencies", (
    _f("id", "long"),
    _f("name", "string", length=3),
    _f("description", "string", length=100),
    _f("displaySymbol", "string", length=10),
    _f("exchangeRate", "decimal"),
    _f("isActive", "boolean"),
    _f("isInternalCurrency", "boolean"),
)))

_add(EntitySchema("CompanyNotes", (
    _f("id", "long"),
    _f("companyID", "integer", required=True, **_W),
    _f("actionType", "integer", required=True, picklist="noteActionType", **_W),
    _f("assignedResourceID", "integer", **_W),
    _f("contactID", "integer", **_W),
    _f("title", "string", length=250, **_W),
    _f("description", "string", required=True, length=32000, **_W),
    _f("startDateTime", "dateTime", **_W),
    _f("endDateTime", "dateTime", **_W),
    _f("completedDateTime", "dateTime", **_W),
    _f("createDateTime", "dateTime"),
    _f("lastModifiedDate", "dateTime"),
), can_create=True, can_update=True))


def entity_schema(name: str) -> EntitySchema | None:
    """The schema for an entity name in any letter case (`invoices`, `Invoices`)."""
    return ENTITIES.get(name.lower())
