"""Seeded, deterministic MSP data for the Autotask sandbox — at any scale, generated lazily.

A record is a pure function of (seed, entity, position): records are generated a chunk at a
time, on first use, from a random generator seeded with (seed, entity, chunk number), so a
sandbox with 100,000 invoices and 300,000 invoice lines starts instantly and the same seed
always yields the same data, whatever order it is read in. Generated chunks are kept in a
bounded cache; records changed afterwards (PATCH, admin changes, faults) live in an overlay,
and new records are appended with ids above every generated one.

Ids are not contiguous (Autotask's are not either): the i-th record of an entity has id
`base + 2*i + bit(i)`, so clients that assume `id + 1` exists fail here as they would in
Autotask, while the sandbox can still find a record by id in O(1).

Money values are `Decimal` with two places. Each invoice's `invoiceTotal` is exactly the sum
of its BillingItems' `totalAmount` (`extendedPrice + taxDollars`), and `totalTaxValue` the
sum of their `taxDollars`.

`bad_records=N` deliberately damages N invoices (a date Autotask would never send, a company
that does not exist, a missing total, an empty invoice number) for quarantine tests; with
the default 0 every record is well-formed.
"""

from __future__ import annotations

import bisect
import calendar
import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from app.core.autotask.dates import parse_autotask_datetime

__all__ = ["DataSizes", "SandboxData", "Table", "default_anchor"]

Record = dict[str, Any]
CENT = Decimal("0.01")
_MASK = (1 << 64) - 1
CHUNK = 1000


def _mix(*values: int) -> int:
    """A fast, well-spread 64-bit hash of a few integers (splitmix64 steps)."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (v & _MASK)) & _MASK
        h = (h + 0x9E3779B97F4A7C15) & _MASK
        z = h
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        h = z ^ (z >> 31)
    return h


@dataclass(frozen=True)
class DataSizes:
    """How much data the sandbox holds. The defaults are the demo's modest MSP."""

    companies: int = 300
    contacts: int = 900
    contracts: int = 240
    tickets: int = 4000
    invoices: int = 3600
    lines_per_invoice: float = 3.0
    payment_terms: int = 6
    years: int = 3

    def __post_init__(self) -> None:
        if self.companies < 1:
            raise ValueError("the sandbox needs at least one company")
        if self.lines_per_invoice < 1:
            raise ValueError("every invoice has at least one line")
        if not 1 <= self.payment_terms <= len(_PAYMENT_TERMS):
            raise ValueError(f"payment_terms must be 1..{len(_PAYMENT_TERMS)}")


def default_anchor() -> date:
    """The first day of the current month: the data's "today" unless one is given."""
    today = datetime.now(UTC).date()
    return today.replace(day=1)


# --------------------------------------------------------------------------- word lists

_NAME_FIRST = [
    "Acme", "Bäckerei Müller", "O'Brien", "Smith & Sons", "Café Lumière", "Nordström",
    "Blue Harbor", "Château Verte", "Riverside", "D'Angelo", "Peña", "Summit", "Keystone",
    "Łódź Trading", "Maple Leaf", "Zoë's", "Harbor & Hill", "Crème", "Oakridge", "Pinnacle",
    "St. Mary's", "Northwind", "Bright Path", "Fjällräven Outfitters", "Granite State",
    "Gómez", "Red Rock", "Ivy & Stone", "Lakeshore", "Saint-Étienne", "Copper Creek",
    "MacAllister", "Silver Birch", "Évora", "Twin Pines", "Quarry Lane", "Hōkūlani",
]
_NAME_SECOND = [
    "Dental", "Law Group", "Accounting", "Logistics", "Family Practice", "Architects",
    "Realty", "Insurance", "Veterinary Clinic", "Builders", "Engineering", "Foods",
    "Credit Union", "Pharmacy", "Motors", "Consulting", "Hospitality", "Print & Sign",
    "Orthodontics", "Manufacturing", "Wealth Partners", "Chiropractic", "Distributors",
]
_NAME_LEGAL = ["LLC", "Inc.", "Ltd", "GmbH", "& Co.", "LLP", "PC", "Corp.", ""]
_FIRST = [
    "José", "Zoë", "Siobhán", "Liam", "Olivia", "Noah", "Émilie", "Søren", "Aisha", "Mateo",
    "Chloé", "Björn", "Priya", "Wei", "Fatima", "Lucas", "Ingrid", "Raúl", "Hannah", "Kofi",
    "Mary-Kate", "Jean-Luc", "Ana", "Tomás", "Yuki", "Grace", "Omar", "Élodie", "Sean",
]
_LAST = [
    "O'Neil", "Müller", "Nguyễn", "García", "Smith", "D'Souza", "Johansson", "Kowalski",
    "Brown", "Martínez", "Okafor", "Dubois", "Rossi", "Chen", "Patel", "MacLeod", "Novák",
    "Schröder", "Hernández", "Williams", "Ó Briain", "van der Berg", "Lefèvre", "Kim",
]
_TITLES = ["Office Manager", "Owner", "CFO", "Practice Manager", "IT Coordinator",
           "Controller", "Bookkeeper", "Operations Director", "Partner", None]
_CITIES = [
    ("Portland", "OR", "97205", 237), ("Austin", "TX", "78701", 237),
    ("Montréal", "QC", "H2X 1Y4", 38), ("Toronto", "ON", "M5V 2T6", 38),
    ("Manchester", "", "M1 1AE", 236), ("Denver", "CO", "80202", 237),
    ("Coeur d'Alene", "ID", "83814", 237), ("Québec", "QC", "G1R 4P5", 38),
    ("Brisbane", "QLD", "4000", 13), ("Lyon", "", "69002", 74), ("München", "", "80331", 81),
    ("Boise", "ID", "83702", 237), ("Halifax", "NS", "B3J 1S9", 38),
]
_STREETS = ["Main St", "Rue Saint-Denis", "Oak Ave", "King's Rd", "Elm Street",
            "Harbour Way", "Avenue des Érables", "Market St", "Bahnhofstraße", "Pine Blvd"]
_TICKET_TITLES = [
    "Printer offline on 2nd floor", "Outlook keeps asking for password", "New hire setup: {n}",
    "VPN disconnects every hour", "Replace failing UPS battery", "Server disk at 90%",
    "Phishing email reported", "Wi-Fi slow in conference room", "Install QuickBooks update",
    "Backup job failed", "Laptop won't boot", "Firewall firmware update",
    "Add user to shared mailbox", "Scanner to email not working", "MFA reset for {n}",
]
_LABOR = ["Remote support", "Onsite support", "Project labor", "After-hours emergency"]
_PRODUCTS = [
    ("Microsoft 365 Business Premium", Decimal("22.00")), ("Dell OptiPlex 7010", Decimal("849.00")),
    ("Ubiquiti U6 Pro access point", Decimal("189.00")), ("APC Smart-UPS 1500", Decimal("689.99")),
    ("Endpoint protection (per seat)", Decimal("6.50")), ("24\" monitor", Decimal("179.95")),
    ("Cloud backup 1 TB", Decimal("45.00")),
]
_SERVICES = [
    ("Managed Services — Gold (per user)", Decimal("125.00")),
    ("Managed Services — Silver (per device)", Decimal("65.00")),
    ("Backup & DR monitoring", Decimal("150.00")),
    ("Security awareness training", Decimal("4.00")),
]
_PAYMENT_TERMS = [
    ("Net 30", "Payment due within 30 days", 30),
    ("Due on Receipt", "Payment due on receipt", 0),
    ("Net 15", "Payment due within 15 days", 15),
    ("Net 45", "Payment due within 45 days", 45),
    ("Net 60", "Payment due within 60 days", 60),
    ("2% 10 Net 30", "2% discount if paid within 10 days, due in 30", 30),
    ("Net 7", "Payment due within 7 days", 7),
]
_TAX_REGIONS = [("Oregon (no sales tax)", Decimal("0")), ("Texas", Decimal("0.0825")),
                ("Quebec GST+QST", Decimal("0.14975")), ("Ontario HST", Decimal("0.13")),
                ("Colorado", Decimal("0.029"))]
_CONTRACT_NAMES = ["Managed Services Agreement", "Block Hours 2025", "Backup & DR",
                   "Project: Office Move", "Microsoft 365 Licensing", "Break/Fix",
                   "Security Bundle", "VoIP Service"]
_RESOURCES = [29682885, 29682886, 29682887, 29682890, 29682893]


def _fmt_z(moment: datetime, digits: int = 3) -> str:
    """Autotask's first shape: `2024-03-01T14:22:05.563Z`."""
    frac = f"{moment.microsecond:06d}{moment.microsecond % 7}"[:digits]
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if digits else "") + "Z"


def _fmt_naive(moment: datetime, digits: int) -> str:
    """Autotask's second shape: no zone, 0–7 fractional digits: `2016-03-30T13:10:35.56`."""
    frac = f"{moment.microsecond:06d}0"[:digits]
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if digits else "")


def _fmt(rng: random.Random, moment: datetime) -> str:
    if rng.random() < 0.5:
        return _fmt_z(moment, rng.choice((0, 2, 3, 7)))
    return _fmt_naive(moment, rng.choice((0, 1, 2, 3, 6, 7)))


def _fmt_date(day: date) -> str:
    """Date-only values (`paidDate`) come back as midnight timestamps."""
    return f"{day.isoformat()}T00:00:00"


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _at(day: date, seconds: int, micro: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
        seconds=seconds, microseconds=micro)


# --------------------------------------------------------------------------- tables


class Table:
    """One entity's records: generated chunks, an overlay of changes, appended records."""

    def __init__(
        self,
        name: str,
        *,
        count: int,
        base: int,
        code: int,
        generate: Callable[[int], list[Record]] | None,
        chunk_size: int = CHUNK,
        cache_chunks: int = 48,
    ) -> None:
        self.name = name
        self.count = count
        self.base = base
        self.code = code
        self.chunk_size = chunk_size
        self._generate = generate
        self._cache: OrderedDict[int, list[Record]] = OrderedDict()
        self._cache_chunks = cache_chunks
        self.overrides: dict[int, Record] = {}
        self.extra: list[Record] = []
        self._extra_ids: list[int] = []
        self.json_cache: dict[int, bytes] = {}
        self._seed = 0

    # id scheme for uniform tables ------------------------------------------------------
    def id_at(self, index: int) -> int:
        return self.base + 2 * index + (_mix(self._seed, self.code, index) & 1)

    def index_of(self, record_id: int) -> int | None:
        index = (record_id - self.base) // 2
        if 0 <= index < self.count and self.id_at(index) == record_id:
            return index
        return None

    def first_index_after(self, record_id: int) -> int:
        """Index of the first generated record whose id is > record_id."""
        if record_id < self.base:
            return 0
        index = (record_id - self.base) // 2
        if index >= self.count:
            return self.count
        return index if self.id_at(index) > record_id else index + 1

    @property
    def num_chunks(self) -> int:
        return (self.count + self.chunk_size - 1) // self.chunk_size

    def chunk_of_index(self, index: int) -> int:
        return index // self.chunk_size

    def max_generated_id(self) -> int:
        return self.id_at(self.count - 1) if self.count else self.base

    # access ---------------------------------------------------------------------------
    def chunk(self, number: int) -> list[Record]:
        cached = self._cache.get(number)
        if cached is not None:
            self._cache.move_to_end(number)
            return cached
        assert self._generate is not None
        records = self._generate(number)
        self._cache[number] = records
        if len(self._cache) > self._cache_chunks:
            self._cache.popitem(last=False)
        return records

    def generated_count_after(self, record_id: int) -> int:
        return self.count - self.first_index_after(record_id)

    def locate_generated(self, record_id: int) -> Record | None:
        index = self.index_of(record_id)
        if index is None:
            return None
        chunk = self.chunk(self.chunk_of_index(index))
        return chunk[index - self.chunk_of_index(index) * self.chunk_size]

    def get(self, record_id: int) -> Record | None:
        record = self.overrides.get(record_id)
        if record is not None:
            return record
        position = bisect.bisect_left(self._extra_ids, record_id)
        if position < len(self._extra_ids) and self._extra_ids[position] == record_id:
            return self.extra[position]
        return self.locate_generated(record_id)

    def iter_from(self, after_id: int | None) -> Iterator[Record]:
        """Records in id order with id > after_id (all when None), overlay applied."""
        start = 0 if after_id is None else self.first_index_after(after_id)
        chunk_number = self.chunk_of_index(start) if self.count else 0
        overrides = self.overrides
        while start < self.count:
            records = self.chunk(chunk_number)
            offset = start - chunk_number * self.chunk_size
            for record in records[offset:] if offset else records:
                changed = overrides.get(record["id"])
                yield changed if changed is not None else record
            chunk_number += 1
            start = chunk_number * self.chunk_size
        position = 0 if after_id is None else bisect.bisect_right(self._extra_ids, after_id)
        yield from self.extra[position:]

    def total(self) -> int:
        return self.count + len(self.extra)

    def count_after(self, after_id: int | None) -> int:
        if after_id is None:
            return self.total()
        return self.generated_count_after(after_id) + (
            len(self._extra_ids) - bisect.bisect_right(self._extra_ids, after_id))

    def next_id(self) -> int:
        last = self._extra_ids[-1] if self._extra_ids else self.max_generated_id()
        return last + 1 + (len(self._extra_ids) % 3)

    def append(self, record: Record) -> None:
        self.extra.append(record)
        self._extra_ids.append(int(record["id"]))

    def replace(self, record: Record) -> None:
        """Store a changed copy of a record (generated or appended)."""
        record_id = int(record["id"])
        self.json_cache.pop(record_id, None)
        position = bisect.bisect_left(self._extra_ids, record_id)
        if position < len(self._extra_ids) and self._extra_ids[position] == record_id:
            self.extra[position] = record
        else:
            self.overrides[record_id] = record


class BillingItemsTable(Table):
    """Invoice lines: generated together with their invoices, ids `base + 8*invoice + k`."""

    LINES_STRIDE = 8

    def __init__(self, invoices: Table, lines_for: Callable[[int], int],
                 generate: Callable[[int], list[Record]], base: int, code: int) -> None:
        self._invoices = invoices
        self._lines_for = lines_for
        self._cumulative: list[int] | None = None
        super().__init__("BillingItems", count=0, base=base, code=code, generate=generate,
                         chunk_size=invoices.chunk_size)
        self.count = self._prefix()[-1]

    def _prefix(self) -> list[int]:
        if self._cumulative is None:
            total = 0
            cumulative = [0]
            for index in range(self._invoices.count):
                total += self._lines_for(index)
                cumulative.append(total)
            self._cumulative = cumulative
        return self._cumulative

    @property
    def num_chunks(self) -> int:
        return self._invoices.num_chunks

    def id_at(self, index: int) -> int:  # index = position among lines
        prefix = self._prefix()
        invoice = bisect.bisect_right(prefix, index) - 1
        return self.base + self.LINES_STRIDE * invoice + (index - prefix[invoice])

    def _split(self, record_id: int) -> tuple[int, int]:
        return divmod(record_id - self.base, self.LINES_STRIDE)

    def index_of(self, record_id: int) -> int | None:
        if record_id < self.base:
            return None
        invoice, k = self._split(record_id)
        if invoice < self._invoices.count and k < self._lines_for(invoice):
            return self._prefix()[invoice] + k
        return None

    def first_index_after(self, record_id: int) -> int:
        if record_id < self.base:
            return 0
        invoice, k = self._split(record_id)
        if invoice >= self._invoices.count:
            return self.count
        return self._prefix()[invoice] + min(k + 1, self._lines_for(invoice))

    def chunk_of_index(self, index: int) -> int:
        invoice = bisect.bisect_right(self._prefix(), index) - 1
        return invoice // self._invoices.chunk_size

    def max_generated_id(self) -> int:
        count = self._invoices.count
        if not count:
            return self.base
        return self.base + self.LINES_STRIDE * (count - 1) + self._lines_for(count - 1) - 1

    def locate_generated(self, record_id: int) -> Record | None:
        index = self.index_of(record_id)
        if index is None:
            return None
        invoice, k = self._split(record_id)
        chunk_number = invoice // self._invoices.chunk_size
        first_invoice = chunk_number * self._invoices.chunk_size
        offset = self._prefix()[invoice] - self._prefix()[first_invoice] + k
        return self.chunk(chunk_number)[offset]

    def iter_from(self, after_id: int | None) -> Iterator[Record]:
        start = 0 if after_id is None else self.first_index_after(after_id)
        overrides = self.overrides
        prefix = self._prefix()
        size = self._invoices.chunk_size
        if start < self.count:
            chunk_number = self.chunk_of_index(start)
            while chunk_number < self.num_chunks:
                records = self.chunk(chunk_number)
                offset = max(0, start - prefix[chunk_number * size])
                for record in records[offset:] if offset else records:
                    changed = overrides.get(record["id"])
                    yield changed if changed is not None else record
                chunk_number += 1
        position = 0 if after_id is None else bisect.bisect_right(self._extra_ids, after_id)
        yield from self.extra[position:]


# --------------------------------------------------------------------------- the data set


class SandboxData:
    """All the sandbox's records, generated on demand from `seed`.

    Thread-safety: callers hold `lock` around every access (the server does).
    """

    ENTITY_CODES: ClassVar[dict[str, int]] = {
        "companies": 1, "contacts": 2, "contracts": 3, "tickets": 4, "invoices": 5,
        "billingitems": 6,
        "paymentterms": 7, "companynotes": 8}

    def __init__(self, sizes: DataSizes, *, seed: int = 7, anchor: date | None = None,
                 bad_records: int = 0) -> None:
        self.sizes = sizes
        self.seed = seed
        self.anchor = anchor or default_anchor()
        self.lock = threading.RLock()
        self.start = _add_months(self.anchor, -12 * sizes.years)
        self._avg_lines = sizes.lines_per_invoice
        spread = max(1, round(2 * sizes.lines_per_invoice - 1))
        self._line_choices = min(spread, BillingItemsTable.LINES_STRIDE)
        self.payment_terms: list[Record] = [
            {"id": 3 + 4 * i, "name": name, "description": desc, "isActive": i < 5,
             "paymentDueInDays": days}
            for i, (name, desc, days) in enumerate(_PAYMENT_TERMS[: sizes.payment_terms])
        ]
        codes = self.ENTITY_CODES
        self.tables: dict[str, Table] = {}

        def add(table: Table) -> Table:
            table._seed = seed
            self.tables[table.name.lower()] = table
            return table

        self.companies = add(Table("Companies", count=sizes.companies, base=174, code=codes[
            "companies"], generate=self._gen_companies))
        self.contacts = add(Table("Contacts", count=sizes.contacts, base=30_000_004,
                                  code=codes["contacts"], generate=self._gen_contacts))
        self.contracts = add(Table("Contracts", count=sizes.contracts, base=29_684_100,
                                   code=codes["contracts"], generate=self._gen_contracts))
        self.tickets = add(Table("Tickets", count=sizes.tickets, base=7_200,
                                 code=codes["tickets"], generate=self._gen_tickets))
        self.invoices = add(Table("Invoices", count=sizes.invoices, base=212,
                                  code=codes["invoices"], generate=self._gen_invoices))
        billing = BillingItemsTable(self.invoices, self.lines_for, self._gen_billing_items,
                                    base=1_900_000, code=codes["billingitems"])
        self.billing_items = add(billing)
        terms = Table("PaymentTerms", count=0, base=0, code=codes["paymentterms"], generate=None)
        for term in self.payment_terms:
            terms.append(term)
        self.payment_terms_table = add(terms)
        self.notes = add(Table("CompanyNotes", count=0, base=29_690_000,
                               code=codes["companynotes"], generate=None))
        self._notes_next = 29_690_011
        self.bad_invoice_ids = self._pick_bad(bad_records)

    # helpers ---------------------------------------------------------------------------
    def table(self, entity: str) -> Table | None:
        return self.tables.get(entity.lower())

    def _rng(self, table_code: int, chunk: int) -> random.Random:
        return random.Random(_mix(self.seed, table_code, chunk, 0x5EED))

    def lines_for(self, invoice_index: int) -> int:
        """How many lines invoice number `invoice_index` has (1 .. 2*avg-1)."""
        return 1 + _mix(self.seed, 99, invoice_index) % self._line_choices

    def company_id(self, index: int) -> int:
        return self.companies.id_at(index % self.companies.count)

    def _span_moment(self, index: int, count: int, rng: random.Random) -> datetime:
        """A moment between the start and the anchor that grows with `index`."""
        total = (self.anchor - self.start).days * 86400
        seconds = total * index // max(1, count)
        return _at(self.start, seconds + rng.randrange(0, 3600), rng.randrange(0, 1_000_000))

    def _pick_bad(self, count: int) -> dict[int, str]:
        if count <= 0 or not self.invoices.count:
            return {}
        rng = random.Random(_mix(self.seed, 0xBAD))
        positions = sorted(rng.sample(range(self.invoices.count),
                                      min(count, self.invoices.count)))
        kinds = ["bad-date", "unknown-company", "missing-total", "empty-number"]
        return {self.invoices.id_at(p): kinds[n % len(kinds)] for n, p in enumerate(positions)}

    # generators ------------------------------------------------------------------------
    def _gen_companies(self, chunk: int) -> list[Record]:
        rng = self._rng(1, chunk)
        table = self.companies
        out: list[Record] = []
        for index in range(chunk * table.chunk_size,
                           min(table.count, (chunk + 1) * table.chunk_size)):
            city, state, postal, country = rng.choice(_CITIES)
            legal = rng.choice(_NAME_LEGAL)
            name = f"{rng.choice(_NAME_FIRST)} {rng.choice(_NAME_SECOND)}"
            if legal:
                name += f" {legal}"
            if index >= len(_NAME_FIRST) * 3:
                name += f" ({city})"
            created = self._span_moment(index, table.count * 4, rng) - timedelta(days=400)
            modified = _at(self.anchor, -rng.randrange(0, 400 * 86400), rng.randrange(10**6))
            company_type = rng.choices([1, 3, 2, 7, 8], weights=[85, 6, 4, 3, 2])[0]
            record: Record = {
                "id": table.id_at(index),
                "companyName": name,
                "companyNumber": f"C{10000 + index}",
                "companyType": company_type,
                "classification": rng.choice([101, 102, 103, 107, 109, None]),
                "isActive": rng.random() < 0.93,
                "phone": f"({rng.randrange(201, 989)}) 555-{rng.randrange(0, 10000):04d}",
                "fax": None,
                "webAddress": f"www.{''.join(c for c in name.split()[0].lower() if c.isalnum())}"
                              f"{index}.example",
                "address1": f"{rng.randrange(1, 9999)} {rng.choice(_STREETS)}",
                "address2": rng.choice([None, None, "Suite 200", "Floor 3", "Unit B"]),
                "city": city,
                "state": state,
                "postalCode": postal,
                "countryID": country,
                "ownerResourceID": rng.choice(_RESOURCES),
                "parentCompanyID": None,
                "taxRegionID": 1 + rng.randrange(len(_TAX_REGIONS)),
                "taxID": None if rng.random() < 0.7 else f"{rng.randrange(10**8, 10**9)}",
                "createDate": _fmt(rng, created),
                "lastActivityDate": _fmt(rng, modified),
                "lastTrackedModifiedDateTime": _fmt(rng, modified),
            }
            if rng.random() < 0.4:
                record["userDefinedFields"] = [
                    {"name": "Billing Email",
                     "value": f"ap@{record['webAddress'].removeprefix('www.')}"}]
            out.append(record)
        return out

    def _gen_contacts(self, chunk: int) -> list[Record]:
        rng = self._rng(2, chunk)
        table = self.contacts
        out: list[Record] = []
        for index in range(chunk * table.chunk_size,
                           min(table.count, (chunk + 1) * table.chunk_size)):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            company_index = index % self.companies.count if index < self.companies.count \
                else rng.randrange(self.companies.count)
            local = "".join(c for c in f"{first}.{last}".lower() if c.isascii() and
                            (c.isalnum() or c == "."))
            has_email = rng.random() < 0.8
            modified = _at(self.anchor, -rng.randrange(0, 500 * 86400), rng.randrange(10**6))
            created = modified - timedelta(days=rng.randrange(0, 900))
            out.append({
                "id": table.id_at(index),
                "companyID": self.company_id(company_index),
                "firstName": first,
                "lastName": last,
                "emailAddress": f"{local}{index}@example.com" if has_email else None,
                "phone": f"({rng.randrange(201, 989)}) 555-{rng.randrange(0, 10000):04d}",
                "mobilePhone": None if rng.random() < 0.5 else
                f"({rng.randrange(201, 989)}) 555-{rng.randrange(0, 10000):04d}",
                "title": rng.choice(_TITLES),
                "isActive": 1 if rng.random() < 0.9 else 0,
                "primaryContact": index < self.companies.count,
                "createDate": _fmt(rng, created),
                "lastActivityDate": _fmt(rng, modified),
                "lastModifiedDate": _fmt(rng, modified),
            })
        return out

    def _gen_contracts(self, chunk: int) -> list[Record]:
        rng = self._rng(3, chunk)
        table = self.contracts
        out: list[Record] = []
        for index in range(chunk * table.chunk_size,
                           min(table.count, (chunk + 1) * table.chunk_size)):
            start = _add_months(self.start, rng.randrange(0, 12 * self.sizes.years))
            end = _add_months(start, rng.choice((12, 24, 36)))
            out.append({
                "id": table.id_at(index),
                "companyID": self.company_id(rng.randrange(self.companies.count)),
                "contactID": None,
                "contractName": rng.choice(_CONTRACT_NAMES),
                "contractNumber": f"CN-{2000 + index}",
                "contractType": rng.choice([1, 3, 4, 6, 7, 7, 7, 8]),
                "contractCategory": rng.choice([11, 12, 13, 14]),
                "status": 1 if end >= self.anchor else 0,
                "startDate": _fmt_naive(_at(start, 0), 0),
                "endDate": _fmt_naive(_at(end, 0), 0),
                "estimatedRevenue": Decimal(rng.randrange(50000, 5000000)) * CENT,
                "isDefaultContract": rng.random() < 0.1,
                "description": "Managed IT services for all workstations and servers.",
                "lastModifiedDateTime": _fmt(rng, _at(self.anchor, -rng.randrange(0, 400 * 86400),
                                                      rng.randrange(10**6))),
            })
        return out

    def _gen_tickets(self, chunk: int) -> list[Record]:
        rng = self._rng(4, chunk)
        table = self.tickets
        out: list[Record] = []
        statuses = [1, 5, 7, 8, 9, 10, 12, 13, 16, 19]
        for index in range(chunk * table.chunk_size,
                           min(table.count, (chunk + 1) * table.chunk_size)):
            created = self._span_moment(index, table.count, rng)
            old = (self.anchor - created.date()).days > 30
            status = 5 if old and rng.random() < 0.95 else rng.choice(statuses)
            completed = created + timedelta(hours=rng.randrange(1, 240)) if status == 5 else None
            modified = completed or created + timedelta(hours=rng.randrange(0, 48))
            title = rng.choice(_TICKET_TITLES).format(n=f"{rng.choice(_FIRST)}")
            out.append({
                "id": table.id_at(index),
                "companyID": self.company_id(rng.randrange(self.companies.count)),
                "contactID": None,
                "contractID": None,
                "ticketNumber": f"T{created:%Y%m%d}.{index % 10000:04d}",
                "title": title,
                "description": f"{title}. Reported by the client.",
                "status": status,
                "priority": rng.choice([1, 2, 2, 2, 3, 3, 4]),
                "queueID": rng.choice([29682833, 29683481, 29683482, 29683487, 29683488]),
                "issueType": rng.choice([2, 3, 4, 5, 6]),
                "assignedResourceID": rng.choice(_RESOURCES),
                "createDate": _fmt(rng, created),
                "dueDateTime": _fmt(rng, created + timedelta(days=3)),
                "completedDate": _fmt(rng, completed) if completed else None,
                "lastActivityDate": _fmt(rng, modified),
                "lastTrackedModificationDateTime": _fmt(rng, modified),
            })
        return out

    def _invoice_and_lines(self, index: int, rng: random.Random) -> tuple[Record, list[Record]]:
        sizes = self.sizes
        months = 12 * sizes.years
        batch = index * months // max(1, self.invoices.count)
        invoice_day = _add_months(self.start, batch + 1)
        created = _at(invoice_day, 6 * 3600 + rng.randrange(0, 4 * 3600), rng.randrange(10**6))
        invoice_id = self.invoices.id_at(index)
        company_index = rng.randrange(self.companies.count)
        company_id = self.company_id(company_index)
        term = self.payment_terms[0 if rng.random() < 0.6 else rng.randrange(
            len(self.payment_terms))]
        tax_name, tax_rate = _TAX_REGIONS[company_index % len(_TAX_REGIONS)]
        period_end = invoice_day - timedelta(days=1)
        period_start = _add_months(invoice_day, -1)
        lines: list[Record] = []
        for k in range(self.lines_for(index)):
            kind = rng.choices([1, 6, 4, 2], weights=[45, 20, 30, 5])[0]
            if kind == 1:
                name, rate = rng.choice(_LABOR), Decimal(rng.choice((95, 125, 150, 175)))
                quantity = Decimal(rng.randrange(1, 33)) * Decimal("0.25")
                taxed = False
            elif kind == 6:
                name, rate = rng.choice(_PRODUCTS)
                quantity = Decimal(rng.randrange(1, 6))
                taxed = True
            elif kind == 4:
                name, rate = rng.choice(_SERVICES)
                quantity = Decimal(rng.randrange(1, 40))
                taxed = False
            else:
                name, rate = "Travel expense", Decimal(rng.randrange(1500, 30000)) * CENT
                quantity = Decimal(1)
                taxed = False
            extended = (quantity * rate).quantize(CENT)
            tax = (extended * tax_rate).quantize(CENT) if taxed else Decimal("0.00")
            item_day = period_start + timedelta(days=rng.randrange(0, 28))
            lines.append({
                "id": self.billing_items.base + BillingItemsTable.LINES_STRIDE * index + k
                if hasattr(self, "billing_items") else 0,
                "invoiceID": invoice_id,
                "companyID": company_id,
                "contractID": None,
                "ticketID": self.tickets.id_at(rng.randrange(self.tickets.count))
                if kind == 1 and self.tickets.count else None,
                "itemName": name,
                "description": name if kind != 1 else f"{name}: {rng.choice(_TICKET_TITLES)}"
                .format(n=rng.choice(_FIRST)),
                "billingItemType": kind,
                "itemDate": _fmt_naive(_at(item_day, 9 * 3600), 0),
                "postedDate": _fmt(rng, _at(period_end, 17 * 3600, rng.randrange(10**6))),
                "quantity": quantity.quantize(CENT),
                "rate": rate.quantize(CENT),
                "extendedPrice": extended,
                "taxDollars": tax,
                "totalAmount": extended + tax,
                "ourCost": (extended * Decimal("0.6")).quantize(CENT),
                "webServiceDate": None,
            })
        total = sum((line["totalAmount"] for line in lines), Decimal("0.00"))
        tax_total = sum((line["taxDollars"] for line in lines), Decimal("0.00"))
        age_days = (self.anchor - invoice_day).days
        voided = rng.random() < 0.03
        paid_date: str | None = None
        if not voided and age_days > 0 and rng.random() < (0.95 if age_days > 60 else 0.4):
            paid_day = invoice_day + timedelta(days=rng.randrange(1, max(2, term[
                "paymentDueInDays"] + 20)))
            if paid_day < self.anchor:
                paid_date = _fmt_date(paid_day)
        exported = rng.random() < 0.4
        invoice: Record = {
            "id": invoice_id,
            "batchID": 100 + batch,
            "comments": None if rng.random() < 0.8 else "Thank you for your business!",
            "companyID": company_id,
            "createDateTime": _fmt(rng, created),
            "creatorResourceID": rng.choice(_RESOURCES),
            "dueDate": _fmt_date(invoice_day + timedelta(days=term["paymentDueInDays"])),
            "fromDate": _fmt_naive(_at(period_start, 0), 0),
            "toDate": _fmt_naive(_at(period_end, 0), 0),
            "invoiceDateTime": _fmt_naive(_at(invoice_day, 0), 0),
            "invoiceEditorTemplateID": 1,
            "invoiceNumber": str(1000 + index),
            "invoiceTotal": total,
            "isVoided": voided,
            "orderNumber": None if rng.random() < 0.9 else f"PO-{rng.randrange(10000, 99999)}",
            "paidDate": paid_date,
            "paymentTerm": term["id"],
            "taxGroup": 1 if tax_total else 3,
            "taxRegionName": tax_name,
            "totalTaxValue": tax_total,
            "voidedByResourceID": rng.choice(_RESOURCES) if voided else None,
            "voidedDate": _fmt(rng, created + timedelta(days=rng.randrange(1, 20)))
            if voided else None,
            "webServiceDate": _fmt(rng, created + timedelta(days=2)) if exported else None,
            "invoiceStatus": 4 if voided else (3 if paid_date else 2),
        }
        damage = self.bad_invoice_ids.get(invoice_id) if hasattr(self, "bad_invoice_ids") else None
        if damage == "bad-date":
            invoice["invoiceDateTime"] = "0000-00-00T00:00:00"
        elif damage == "unknown-company":
            invoice["companyID"] = 1
        elif damage == "missing-total":
            invoice["invoiceTotal"] = None
        elif damage == "empty-number":
            invoice["invoiceNumber"] = ""
        return invoice, lines

    def _invoice_chunk(self, chunk: int) -> tuple[list[Record], list[Record]]:
        rng = self._rng(5, chunk)
        table = self.invoices
        invoices: list[Record] = []
        lines: list[Record] = []
        for index in range(chunk * table.chunk_size,
                           min(table.count, (chunk + 1) * table.chunk_size)):
            invoice, invoice_lines = self._invoice_and_lines(index, rng)
            invoices.append(invoice)
            lines.extend(invoice_lines)
        return invoices, lines

    def _gen_invoices(self, chunk: int) -> list[Record]:
        return self._invoice_chunk(chunk)[0]

    def _gen_billing_items(self, chunk: int) -> list[Record]:
        return self._invoice_chunk(chunk)[1]

    # changes ---------------------------------------------------------------------------
    def now_text(self) -> str:
        return _fmt_z(datetime.now(UTC), 3)

    def add_note(self, fields: Record) -> Record:
        self._notes_next += 3
        note: Record = {name: None for name in ("title", "description", "contactID",
                                        "assignedResourceID", "startDateTime",
                                        "endDateTime", "completedDateTime")}
        note.update(fields)
        now = self.now_text()
        note["id"] = self._notes_next
        note.setdefault("actionType", 1)
        note["createDateTime"] = now
        note["lastModifiedDate"] = now
        self.notes.append(note)
        return note

    def add_company(self, fields: Record) -> Record:
        table = self.companies
        template = dict(table.get(table.id_at(0)) or {})
        template.pop("userDefinedFields", None)
        now = self.now_text()
        template.update({"id": table.next_id(), "createDate": now, "lastActivityDate": now,
                         "lastTrackedModifiedDateTime": now, "companyNumber": None})
        template.update(fields)
        table.append(template)
        return template

    def add_invoice(self, company_id: int, lines: list[tuple[str, Decimal, Decimal]],
                    *, invoice_day: date | None = None, payment_term: int | None = None,
                    tax_rate: Decimal = Decimal("0")) -> Record:
        """Create an invoice with lines (name, quantity, rate); totals add up exactly."""
        table = self.invoices
        day = invoice_day or datetime.now(UTC).date()
        invoice_id = table.next_id()
        term = next((t for t in self.payment_terms if t["id"] == payment_term),
                    self.payment_terms[0])
        items: list[Record] = []
        billing = self.billing_items
        for name, quantity, rate in lines:
            extended = (quantity * rate).quantize(CENT)
            tax = (extended * tax_rate).quantize(CENT)
            item = {
                "id": billing.next_id(), "invoiceID": invoice_id, "companyID": company_id,
                "contractID": None, "ticketID": None, "itemName": name, "description": name,
                "billingItemType": 6, "itemDate": _fmt_naive(_at(day, 9 * 3600), 0),
                "postedDate": self.now_text(), "quantity": quantity.quantize(CENT),
                "rate": rate.quantize(CENT), "extendedPrice": extended, "taxDollars": tax,
                "totalAmount": extended + tax, "ourCost": None, "webServiceDate": None,
            }
            billing.append(item)
            items.append(item)
        last_number = max(1000 + table.count - 1,
                          *(int(r["invoiceNumber"]) for r in table.extra
                            if str(r.get("invoiceNumber", "")).isdigit()), 0)
        invoice = {
            "id": invoice_id, "batchID": 9000, "comments": None, "companyID": company_id,
            "createDateTime": self.now_text(), "creatorResourceID": _RESOURCES[0],
            "dueDate": _fmt_date(day + timedelta(days=term["paymentDueInDays"])),
            "fromDate": _fmt_naive(_at(_add_months(day, -1), 0), 0),
            "toDate": _fmt_naive(_at(day - timedelta(days=1), 0), 0),
            "invoiceDateTime": _fmt_naive(_at(day, 0), 0), "invoiceEditorTemplateID": 1,
            "invoiceNumber": str(last_number + 1),
            "invoiceTotal": sum((i["totalAmount"] for i in items), Decimal("0.00")),
            "isVoided": False, "orderNumber": None, "paidDate": None,
            "paymentTerm": term["id"], "taxGroup": 1 if tax_rate else 3,
            "taxRegionName": None,
            "totalTaxValue": sum((i["taxDollars"] for i in items), Decimal("0.00")),
            "voidedByResourceID": None, "voidedDate": None, "webServiceDate": None,
            "invoiceStatus": 2,
        }
        table.append(invoice)
        return invoice

    def change(self, entity: str, record_id: int, fields: Record) -> Record | None:
        """Apply changes to a record (any field); returns the new record or None."""
        table = self.table(entity)
        if table is None:
            return None
        current = table.get(record_id)
        if current is None:
            return None
        updated = dict(current)
        updated.update(fields)
        if table is self.companies:
            updated["lastTrackedModifiedDateTime"] = self.now_text()
        table.replace(updated)
        return updated

    def void_invoice(self, invoice_id: int) -> Record | None:
        return self.change("Invoices", invoice_id, {
            "isVoided": True, "voidedDate": self.now_text(),
            "voidedByResourceID": _RESOURCES[0], "invoiceStatus": 4})

    def pay_invoice(self, invoice_id: int, day: date | None = None) -> Record | None:
        paid = day or datetime.now(UTC).date()
        return self.change("Invoices", invoice_id, {"paidDate": _fmt_date(paid),
                                                    "invoiceStatus": 3})


def parse_record_datetime(value: str) -> datetime | None:
    """Read a stored timestamp (both of Autotask's shapes); None when unreadable."""
    try:
        return parse_autotask_datetime(value)
    except ValueError:
        return None
