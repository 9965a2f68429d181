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
import functools
import json
import operator
import random
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from app.core.autotask.dates import parse_autotask_datetime

__all__ = ["DataSizes", "SandboxData", "Table", "default_anchor", "encode_json", "project"]

Record = dict[str, Any]
Fields = tuple[str, ...] | None
CENT = Decimal("0.01")
_MASK = (1 << 64) - 1
CHUNK = 1000
_ID_RANGE_LIMIT = 5000
_INDEX_SLACK = 0.001  # seconds: far wider than a timestamp float's rounding
"""Above this many candidates, a query reads records in place rather than by index."""


# Decimals are written as exact JSON numbers: the encoder emits them as strings wrapped in
# two control characters (which JSON escapes as \u0000 / \u0001), then both wrappers and
# their quotes are removed with two plain replaces — much faster than a regex. Records never
# hold strings that start with NUL, so nothing else can match.
_DEC_OPEN = "\x00"
_DEC_CLOSE = "\x01"
_DEC_OPEN_TEXT = '"\\u0000'
_DEC_CLOSE_TEXT = '\\u0001"'


def _json_default(value: object) -> Any:
    if isinstance(value, Decimal):
        text = str(value)  # quantized amounts print plainly ("12.50"); fast
        if "E" in text:
            text = format(value, "f")
        return _DEC_OPEN + text + _DEC_CLOSE
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_ENCODER = json.JSONEncoder(default=_json_default, ensure_ascii=False, separators=(",", ":"))


_ASCII_ENCODER = json.JSONEncoder(default=_json_default, ensure_ascii=True,
                                  separators=(",", ":"))


def encode_json(value: Any) -> bytes:
    """JSON with Decimals written as numbers with their exact digits (`12.50`)."""
    text = _ENCODER.encode(value)
    if _DEC_OPEN_TEXT in text:
        text = text.replace(_DEC_OPEN_TEXT, "").replace(_DEC_CLOSE_TEXT, "")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Half of a surrogate pair (damaged data a test put in): written as the \uXXXX
        # escape a JSON server sends for it, which is still valid JSON.
        escaped = _ASCII_ENCODER.encode(value)
        if _DEC_OPEN_TEXT in escaped:
            escaped = escaped.replace(_DEC_OPEN_TEXT, "").replace(_DEC_CLOSE_TEXT, "")
        return escaped.encode("ascii")


@functools.lru_cache(maxsize=256)
def _getter(include: tuple[str, ...]) -> Callable[[Record], Any]:
    return operator.itemgetter(*include)


def project(record: Record, include: tuple[str, ...]) -> Record:
    """Only the `include` fields of a record (an `IncludeFields` projection)."""
    try:
        values = _getter(include)(record)
    except KeyError:
        return {f: record.get(f) for f in include}
    return dict(zip(include, values if len(include) > 1 else (values,), strict=True))


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
_COMPANY_TYPES = [1] * 85 + [3] * 6 + [2] * 4 + [7] * 3 + [8] * 2
_CLASSIFICATIONS = [101, 102, 103, 107, 109, None]
_ADDRESS2 = [None, None, "Suite 200", "Floor 3", "Unit B"]
_CONTRACT_TYPES = [1, 3, 4, 6, 7, 7, 7, 8]
_TICKET_STATUSES = [1, 5, 7, 8, 9, 10, 12, 13, 16, 19]
_PRIORITIES = [1, 2, 2, 2, 3, 3, 4]
_QUEUES = [29682833, 29683481, 29683482, 29683487, 29683488]
_LABOR_RATES = [Decimal("95.00"), Decimal("125.00"), Decimal("150.00"), Decimal("175.00")]
_QUARTERS = [(Decimal(n) * Decimal("0.25")).quantize(CENT) for n in range(1, 33)]
_UNITS = [Decimal(n).quantize(CENT) for n in range(1, 40)]
_COST_SHARE = Decimal("0.6")
ZERO = Decimal("0.00")

_LineCore = tuple[int, str, Decimal, Decimal, Decimal, Decimal]


@dataclass(frozen=True)
class _Batch:
    """One monthly billing run: the dates every invoice of that month shares."""

    number: int
    day_number: int
    seconds: int
    period_start_seconds: int
    from_text: str
    to_text: str
    day_text: str
    due_texts: dict[int, str]


def _fmt_z(moment: datetime, digits: int = 3) -> str:
    """Autotask's first shape: `2024-03-01T14:22:05.563Z`."""
    frac = f"{moment.microsecond:06d}{moment.microsecond % 7}"[:digits]
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if digits else "") + "Z"


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY_TEXT: dict[int, str] = {}


def _secs(day: date) -> int:
    """Midnight UTC of `day` as epoch seconds."""
    return (day.toordinal() - _EPOCH_ORDINAL) * 86400


def _day_text(day_number: int) -> str:
    text = _DAY_TEXT.get(day_number)
    if text is None:
        text = date.fromordinal(_EPOCH_ORDINAL + day_number).isoformat()
        _DAY_TEXT[day_number] = text
    return text


def _stamp(seconds: int, micro: int, digits: int, zulu: bool) -> str:
    day, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{_day_text(day)}T{hours:02d}:{minutes:02d}:{secs:02d}"
    if digits:
        text += "." + f"{micro:06d}{micro % 7}"[:digits]
    return text + "Z" if zulu else text


def _fmt(r: Callable[[], float], seconds: int, micro: int, digits: int = 3) -> str:
    """A UTC instant as Autotask writes it: one form per field, with `Z`.

    The seeded draw that once picked a random shape is still made, so every other value
    of the data set stays what it was for a given seed.
    """
    r()
    return _stamp(seconds, micro, digits, True)


def _fmt_date(day: date) -> str:
    """Date-only values (`paidDate`, `startDate`) come back as midnight timestamps."""
    return f"{day.isoformat()}T00:00:00"


def _fmt_date_seconds(seconds: int) -> str:
    return f"{_day_text(seconds // 86400)}T00:00:00"


#: The sandbox tenant's currencies (Autotask's Currencies entity): ids as a tenant has them.
INTERNAL_CURRENCY_ID = 1
FOREIGN_CURRENCY_ID = 4
_CURRENCIES: tuple[Record, ...] = (
    {"id": INTERNAL_CURRENCY_ID, "name": "USD", "description": "US Dollar",
     "displaySymbol": "$", "exchangeRate": Decimal("1.0000"), "isActive": True,
     "isInternalCurrency": True},
    {"id": FOREIGN_CURRENCY_ID, "name": "EUR", "description": "Euro",
     "displaySymbol": "€", "exchangeRate": Decimal("0.9200"), "isActive": True,
     "isInternalCurrency": False},
)

_T = TypeVar("_T")


def _pick(r: Callable[[], float], items: Sequence[_T]) -> _T:
    return items[int(r() * len(items))]


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


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
        """JSON of changed and appended records (invalidated when they change)."""
        self._serialized: dict[tuple[int, Fields], list[tuple[int, bytes]]] = {}
        self._bits = b""
        self.index_fields: tuple[str, ...] = ()
        """Date fields with a sorted index (Autotask answers "changed since" from one)."""
        self._index_entries: dict[str, tuple[list[float], list[int]]] = {}
        self._indexes: dict[str, tuple[list[float], list[int]]] = {}
        self._indexed_chunks: set[int] = set()

    # id scheme for uniform tables ------------------------------------------------------
    def seed_ids(self, seed: int) -> None:
        """Draw the id gaps: one random bit per record, from the data set's seed."""
        if self.count:
            bits = random.Random(_mix(seed, self.code)).getrandbits(self.count + 8)
            self._bits = bits.to_bytes((self.count + 15) // 8, "little")

    def id_at(self, index: int) -> int:
        return self.base + 2 * index + ((self._bits[index >> 3] >> (index & 7)) & 1)

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
        records = self.generate(number)
        self.store_chunk(number, records)
        return records

    def generate(self, number: int) -> list[Record]:
        """Generate one chunk without touching the caches (safe without the data lock)."""
        assert self._generate is not None
        records = self._generate(number)
        for record in records:
            # Autotask sends the list on every record, empty when there are none (published
            # clients index into it unconditionally).
            if "userDefinedFields" not in record:
                record["userDefinedFields"] = []
        return records

    def store_chunk(self, number: int, records: list[Record]) -> None:
        """Keep a generated chunk (callers hold the data lock)."""
        if self.index_fields and number not in self._indexed_chunks:
            self._index_chunk(number, records)
        self._cache[number] = records
        self._cache.move_to_end(number)
        if len(self._cache) > self._cache_chunks:
            self._cache.popitem(last=False)

    def is_cached(self, number: int) -> bool:
        return number in self._cache

    # date indexes ---------------------------------------------------------------------
    #
    # Each indexed field has its values (as POSIX timestamps: floats sort several times
    # faster than datetimes) and ids over the *generated* records, gathered as chunks are
    # first generated and sorted when first needed. Generated records never change (a
    # change is a new record in `overrides`), so the index stays true of them; changed and
    # appended records — few — are always handed to the predicate besides. A float is
    # within a microsecond of its datetime, so lookups widen their bounds by a millisecond
    # and the predicate, which compares the datetimes, has the last word.

    def _index_chunk(self, number: int, records: list[Record]) -> None:
        for name in self.index_fields:
            keys, ids = self._index_entries.setdefault(name, ([], []))
            for record in records:
                raw = record.get(name)
                if isinstance(raw, str):
                    moment = index_datetime(raw)
                    if moment is not None:
                        keys.append(moment.timestamp())
                        ids.append(record["id"])
            self._indexes.pop(name, None)
        self._indexed_chunks.add(number)

    def date_index(self, name: str) -> tuple[list[float], list[int]] | None:
        """(sorted timestamps, their ids) of a date field over the generated records, or None
        when the field has no index. Generates the chunks never generated yet (callers hold
        the data lock)."""
        if name not in self.index_fields:
            return None
        if len(self._indexed_chunks) < self.num_chunks:
            for number in range(self.num_chunks):
                if number not in self._indexed_chunks:
                    self.chunk(number)
        index = self._indexes.get(name)
        if index is None:
            keys, ids = self._index_entries.setdefault(name, ([], []))
            order = sorted(range(len(keys)), key=keys.__getitem__)
            index = ([keys[i] for i in order], [ids[i] for i in order])
            self._indexes[name] = index
        return index

    def changed_ids(self) -> list[int]:
        """Ids of changed and appended records (always checked by indexed queries)."""
        return [*self.overrides, *self._extra_ids]

    def generated_ids(self, first: int, stop: int) -> list[int]:
        """Ids of the generated records at indexes first..stop-1."""
        return [self.id_at(i) for i in range(first, stop)]

    def select(self, plan: Any) -> list[int] | None:
        """Sorted ids of at least every record a query plan (`query.Plan`) can match, or
        None when only reading every record can tell (callers hold the data lock)."""
        found = self._select(plan)
        if found is None:
            return None
        changed = self.changed_ids()
        return sorted(set(found).union(changed)) if changed else found

    def _select(self, plan: Any) -> list[int] | None:
        if plan is None:
            return None
        kind = plan[0]
        if kind == "and":
            chosen = [c for c in (self._select(p) for p in plan[1]) if c is not None]
            if not chosen:
                return None
            smallest = min(chosen, key=len)
            others = [set(c) for c in chosen if c is not smallest]
            return [i for i in smallest if all(i in o for o in others)] if others else smallest
        if kind == "or":
            parts = [self._select(p) for p in plan[1]]
            if any(p is None for p in parts):
                return None
            return sorted(set().union(*parts))  # type: ignore[arg-type]
        if kind == "ids":
            return list(plan[1])
        if kind == "id":
            return self._select_ids(plan[1], plan[2])
        if kind == "date":
            return self._select_dates(plan[1], plan[2], plan[3])
        if kind == "nodate":
            return self._select_missing(plan[1])
        return None

    def _select_missing(self, name: str) -> list[int] | None:
        """Generated records without a readable value in a date field (open invoices have
        no `paidDate`): every id the field's index does not hold."""
        index = self.date_index(name)
        if index is None:
            return None
        present = set(index[1])
        return [i for i in self.generated_ids(0, self.count) if i not in present]

    def _select_ids(self, op: str, value: int) -> list[int] | None:
        if op == "eq":
            return [value]
        if op in ("gt", "gte"):
            first, stop = self.first_index_after(value if op == "gt" else value - 1), self.count
        else:
            first, stop = 0, self.first_index_after(value - 1 if op == "lt" else value)
        if stop - first > _ID_RANGE_LIMIT:
            return None  # many records: reading them in place costs no more
        return self.generated_ids(first, stop)

    def _select_dates(self, name: str, op: str, target: datetime) -> list[int] | None:
        index = self.date_index(name)
        if index is None:
            return None
        keys, ids = index
        moment = target.timestamp()
        low = bisect.bisect_left(keys, moment - _INDEX_SLACK)
        high = bisect.bisect_right(keys, moment + _INDEX_SLACK)
        if op in ("gt", "gte"):
            hits = ids[low:]
        elif op in ("lt", "lte"):
            hits = ids[:high]
        else:
            hits = ids[low:high]
        if len(hits) * 2 > len(ids) and len(hits) > _ID_RANGE_LIMIT:
            return None  # most records match: reading them in place is cheaper
        return sorted(hits)

    def cached_chunk(self, number: int) -> list[Record] | None:
        return self._cache.get(number)

    def keep_all_chunks(self) -> None:
        """Stop evicting generated chunks (a warmed, long-lived sandbox keeps everything)."""
        self._cache_chunks = max(self._cache_chunks, self.num_chunks)

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

    def chunk_first_index(self, number: int) -> int:
        return number * self.chunk_size

    def _walk(self, after_id: int | None) -> Iterator[tuple[int, int]]:
        """(chunk number, offset in chunk) of the generated records with id > after_id."""
        start = 0 if after_id is None else self.first_index_after(after_id)
        if start >= self.count:
            return
        number = self.chunk_of_index(start)
        offset = start - self.chunk_first_index(number)
        while number < self.num_chunks:
            yield number, offset
            number += 1
            offset = 0

    def _extra_after(self, after_id: int | None) -> list[Record]:
        position = 0 if after_id is None else bisect.bisect_right(self._extra_ids, after_id)
        return self.extra[position:]

    def iter_from(self, after_id: int | None) -> Iterator[Record]:
        """Records in id order with id > after_id (all when None), overlay applied."""
        overrides = self.overrides
        for number, offset in self._walk(after_id):
            records = self.chunk(number)
            for record in records[offset:] if offset else records:
                changed = overrides.get(record["id"]) if overrides else None
                yield changed if changed is not None else record
        yield from self._extra_after(after_id)

    def json_for(self, record: Record) -> bytes:
        """The JSON of a changed or appended record (cached until it changes again)."""
        record_id = record["id"]
        cached = self.json_cache.get(record_id)
        if cached is None:
            cached = encode_json(record)
            self.json_cache[record_id] = cached
        return cached

    def is_serialized(self, number: int, include: Fields = None) -> bool:
        return (number, include) in self._serialized

    def serialized(self, number: int, include: Fields = None) -> list[tuple[int, bytes]]:
        """(id, JSON) of one generated chunk as generated — whole records, or only the
        `include` fields (an `IncludeFields` projection); kept once made (compact)."""
        key = (number, include)
        entries = self._serialized.get(key)
        if entries is None:
            entries = self.encode_chunk(self.chunk(number), include)
            self._serialized[key] = entries
        return entries

    @staticmethod
    def encode_chunk(records: list[Record], include: Fields) -> list[tuple[int, bytes]]:
        """(id, JSON) of generated records (pure: safe without the data lock)."""
        if include is None:
            return [(r["id"], encode_json(r)) for r in records]
        return [(r["id"], encode_json(project(r, include))) for r in records]

    def store_serialized(self, number: int, include: Fields,
                         entries: list[tuple[int, bytes]]) -> None:
        """Keep a chunk's JSON made outside the lock (callers hold the data lock)."""
        self._serialized.setdefault((number, include), entries)

    def _json_of(self, record: Record, include: Fields) -> bytes:
        if include is None:
            return self.json_for(record)
        return encode_json(project(record, include))

    def iter_json_from(self, after_id: int | None,
                       include: Fields = None) -> Iterator[tuple[int, bytes]]:
        """(id, JSON) in id order with id > after_id — the fast path for id-only paging."""
        overrides = self.overrides
        for number, offset in self._walk(after_id):
            entries = self.serialized(number, include)
            for entry in entries[offset:] if offset else entries:
                if overrides:
                    changed = overrides.get(entry[0])
                    if changed is not None:
                        yield entry[0], self._json_of(changed, include)
                        continue
                yield entry
        for record in self._extra_after(after_id):
            yield record["id"], self._json_of(record, include)

    def chunk_after(self, record_id: int) -> int | None:
        """The chunk holding the first generated record after `record_id`, if any."""
        start = self.first_index_after(record_id)
        return self.chunk_of_index(start) if start < self.count else None

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
        record.setdefault("userDefinedFields", [])
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

    def chunk_first_index(self, number: int) -> int:
        return self._prefix()[min(number * self._invoices.chunk_size, self._invoices.count)]


# --------------------------------------------------------------------------- the data set


class SandboxData:
    """All the sandbox's records, generated on demand from `seed`.

    Thread-safety: callers hold `lock` around every access (the server does).
    """

    ENTITY_CODES: ClassVar[dict[str, int]] = {
        "companies": 1, "contacts": 2, "contracts": 3, "tickets": 4, "invoices": 5,
        "billingitems": 6,
        "paymentterms": 7, "companynotes": 8, "currencies": 9}

    def __init__(self, sizes: DataSizes, *, seed: int = 7, anchor: date | None = None,
                 bad_records: int = 0) -> None:
        self.sizes = sizes
        self.seed = seed
        self.anchor = anchor or default_anchor()
        #: No generated instant is later than this (epoch seconds, fixed when the data set
        #: is made so that a chunk generated again later is the same).
        self.ceiling = int(datetime.now(UTC).timestamp())
        self.lock = threading.RLock()
        self.start = _add_months(self.anchor, -12 * sizes.years)
        self._avg_lines = sizes.lines_per_invoice
        spread = max(1, round(2 * sizes.lines_per_invoice - 1))
        self._line_choices = min(spread, BillingItemsTable.LINES_STRIDE)
        # Per-invoice line counts and companies, drawn up front (cheap) so that BillingItems
        # can be generated without generating their invoices, and counted without either.
        pre = random.Random(_mix(seed, 0xA11))
        draw = pre.random
        self._invoice_lines = bytes(1 + int(draw() * self._line_choices)
                                    for _ in range(sizes.invoices))
        self._invoice_company = array("l", (int(draw() * sizes.companies)
                                            for _ in range(sizes.invoices)))
        self.payment_terms: list[Record] = [
            {"id": 3 + 4 * i, "name": name, "description": desc, "isActive": i < 5,
             "paymentDueInDays": days}
            for i, (name, desc, days) in enumerate(_PAYMENT_TERMS[: sizes.payment_terms])
        ]
        codes = self.ENTITY_CODES
        self.tables: dict[str, Table] = {}

        def add(table: Table) -> Table:
            table.seed_ids(seed)
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
        # Autotask's currencies: the internal one, and one a client may be billed in when
        # multi-currency is on (a company's currencyID names it).
        currencies = Table("Currencies", count=0, base=0, code=codes["currencies"],
                           generate=None)
        for currency in _CURRENCIES:
            currencies.append(dict(currency))
        self.currencies = add(currencies)
        self.notes = add(Table("CompanyNotes", count=0, base=29_690_000,
                               code=codes["companynotes"], generate=None))
        self._notes_next = 29_690_011
        self.bad_invoice_ids = self._pick_bad(bad_records)
        self._batches: dict[int, _Batch] = {}

    # lookups ---------------------------------------------------------------------------
    def table(self, entity: str) -> Table | None:
        return self.tables.get(entity.lower())

    def _rng(self, table_code: int, chunk: int) -> random.Random:
        return random.Random(_mix(self.seed, table_code, chunk, 0x5EED))

    def lines_for(self, invoice_index: int) -> int:
        """How many lines invoice number `invoice_index` has (1 .. 2*avg-1)."""
        return self._invoice_lines[invoice_index]

    def company_id(self, index: int) -> int:
        return self.companies.id_at(index % self.companies.count)

    def primary_contact_id(self, company_index: int) -> int | None:
        """Contact number i is company number i's primary contact (while there are any)."""
        return self.contacts.id_at(company_index) if company_index < self.contacts.count \
            else None

    def contract_id(self, company_index: int) -> int | None:
        """Contract number i belongs to company number i (while there are contracts)."""
        return self.contracts.id_at(company_index) if company_index < self.contracts.count \
            else None

    def _span_seconds(self, index: int, count: int, r: Callable[[], float]) -> int:
        """A moment (epoch seconds) between the start and the anchor, growing with index."""
        total = (self.anchor - self.start).days * 86400
        return _secs(self.start) + total * index // max(1, count) + int(r() * 3600)

    def _pick_bad(self, count: int) -> dict[int, str]:
        if count <= 0 or not self.invoices.count:
            return {}
        rng = random.Random(_mix(self.seed, 0xBAD))
        positions = sorted(rng.sample(range(self.invoices.count),
                                      min(count, self.invoices.count)))
        kinds = ["bad-date", "unknown-company", "missing-total", "empty-number"]
        return {self.invoices.id_at(p): kinds[n % len(kinds)] for n, p in enumerate(positions)}

    def _indexes(self, table: Table, chunk: int) -> range:
        return range(chunk * table.chunk_size, min(table.count, (chunk + 1) * table.chunk_size))

    # generators ------------------------------------------------------------------------
    def _gen_companies(self, chunk: int) -> list[Record]:
        r = self._rng(1, chunk).random
        table = self.companies
        anchor = _secs(self.anchor)
        start = _secs(self.start)
        out: list[Record] = []
        for index in self._indexes(table, chunk):
            city, state, postal, country = _pick(r, _CITIES)
            legal = _pick(r, _NAME_LEGAL)
            first = _pick(r, _NAME_FIRST)
            name = f"{first} {_pick(r, _NAME_SECOND)}"
            if legal:
                name += f" {legal}"
            if index >= len(_NAME_FIRST) * 3:
                name += f" ({city})"
            created = start - 400 * 86400 + int(r() * 300 * 86400)
            modified = anchor - int(r() * 400 * 86400)
            micro = int(r() * 1_000_000)
            site = "".join(c for c in first.lower() if c.isascii() and c.isalnum()) or "client"
            record: Record = {
                "id": table.id_at(index),
                "companyName": name,
                "companyNumber": f"C{10000 + index}",
                "companyType": _pick(r, _COMPANY_TYPES),
                "classification": _pick(r, _CLASSIFICATIONS),
                "isActive": r() < 0.93,
                "phone": f"({201 + int(r() * 788)}) 555-{int(r() * 10000):04d}",
                "fax": None,
                "webAddress": f"www.{site}{index}.example",
                "address1": f"{1 + int(r() * 9998)} {_pick(r, _STREETS)}",
                "address2": _pick(r, _ADDRESS2),
                "city": city,
                "state": state,
                "postalCode": postal,
                "countryID": country,
                "ownerResourceID": _pick(r, _RESOURCES),
                "parentCompanyID": None,
                "taxRegionID": 1 + index % len(_TAX_REGIONS),
                "taxID": None if r() < 0.7 else f"{int(r() * 9 * 10**8) + 10**8}",
                "currencyID": INTERNAL_CURRENCY_ID,
                "createDate": _fmt(r, created, micro),
                "lastActivityDate": _fmt(r, modified, micro),
                "lastTrackedModifiedDateTime": _fmt(r, modified, micro),
            }
            if r() < 0.4:
                record["userDefinedFields"] = [
                    {"name": "Billing Email", "value": f"ap@{site}{index}.example"}]
            out.append(record)
        return out

    def _gen_contacts(self, chunk: int) -> list[Record]:
        r = self._rng(2, chunk).random
        table = self.contacts
        anchor = _secs(self.anchor)
        companies = self.companies.count
        out: list[Record] = []
        for index in self._indexes(table, chunk):
            first, last = _pick(r, _FIRST), _pick(r, _LAST)
            company_index = index if index < companies else int(r() * companies)
            local = "".join(c for c in f"{first}.{last}".lower() if c.isascii() and
                            (c.isalnum() or c == "."))
            has_email = r() < 0.8
            modified = anchor - int(r() * 500 * 86400)
            created = modified - int(r() * 900) * 86400
            micro = int(r() * 1_000_000)
            out.append({
                "id": table.id_at(index),
                "companyID": self.company_id(company_index),
                "firstName": first,
                "lastName": last,
                "emailAddress": f"{local}{index}@example.com" if has_email else None,
                "phone": f"({201 + int(r() * 788)}) 555-{int(r() * 10000):04d}",
                "mobilePhone": None if r() < 0.5 else
                f"({201 + int(r() * 788)}) 555-{int(r() * 10000):04d}",
                "title": _pick(r, _TITLES),
                "isActive": 1 if r() < 0.9 else 0,
                "primaryContact": index < companies,
                "createDate": _fmt(r, created, micro),
                "lastActivityDate": _fmt(r, modified, micro),
                "lastModifiedDate": _fmt(r, modified, micro),
            })
        return out

    def _gen_contracts(self, chunk: int) -> list[Record]:
        r = self._rng(3, chunk).random
        table = self.contracts
        anchor = _secs(self.anchor)
        companies = self.companies.count
        out: list[Record] = []
        for index in self._indexes(table, chunk):
            start = _add_months(self.start, int(r() * 12 * self.sizes.years))
            end = _add_months(start, _pick(r, (12, 24, 36)))
            company_index = index % companies  # every client gets its agreement first
            out.append({
                "id": table.id_at(index),
                "companyID": self.company_id(company_index),
                "contactID": self.primary_contact_id(company_index),
                "contractName": _pick(r, _CONTRACT_NAMES),
                "contractNumber": f"CN-{2000 + index}",
                "contractType": _pick(r, _CONTRACT_TYPES),
                "contractCategory": _pick(r, (11, 12, 13, 14)),
                "status": 1 if end >= self.anchor else 0,
                "startDate": _fmt_date(start),
                "endDate": _fmt_date(end),
                "estimatedRevenue": Decimal(50000 + int(r() * 4950000)) * CENT,
                "isDefaultContract": r() < 0.1,
                "description": "Managed IT services for all workstations and servers.",
                "lastModifiedDateTime": _fmt(r, anchor - int(r() * 400 * 86400),
                                             int(r() * 1_000_000)),
            })
        return out

    def _gen_tickets(self, chunk: int) -> list[Record]:
        r = self._rng(4, chunk).random
        ceiling = self.ceiling
        table = self.tickets
        anchor = _secs(self.anchor)
        companies = self.companies.count
        out: list[Record] = []
        for index in self._indexes(table, chunk):
            created = self._span_seconds(index, table.count, r)
            micro = int(r() * 1_000_000)
            old = anchor - created > 30 * 86400
            status = 5 if old and r() < 0.95 else _pick(r, _TICKET_STATUSES)
            completed = created + int(r() * 240 * 3600) + 3600 if status == 5 else None
            modified = completed or created + int(r() * 48 * 3600)
            # Activity never lies in the future (a client's "changed since" would read it
            # again on every run).
            created = min(created, ceiling)
            completed = min(completed, ceiling) if completed else None
            modified = min(modified, ceiling)
            title = _pick(r, _TICKET_TITLES).replace("{n}", _pick(r, _FIRST))
            company_index = int(r() * companies)
            out.append({
                "id": table.id_at(index),
                "companyID": self.company_id(company_index),
                "contactID": self.primary_contact_id(company_index) if r() < 0.7 else None,
                "contractID": self.contract_id(company_index) if r() < 0.5 else None,
                "ticketNumber": f"T{_day_text(created // 86400).replace('-', '')}"
                                f".{index % 10000:04d}",
                "title": title,
                "description": f"{title}. Reported by the client.",
                "status": status,
                "priority": _pick(r, _PRIORITIES),
                "queueID": _pick(r, _QUEUES),
                "issueType": _pick(r, (2, 3, 4, 5, 6)),
                "assignedResourceID": _pick(r, _RESOURCES),
                "createDate": _fmt(r, created, micro),
                "dueDateTime": _fmt(r, created + 3 * 86400, micro),
                "completedDate": _fmt(r, completed, micro) if completed else None,
                "lastActivityDate": _fmt(r, modified, micro),
                "lastTrackedModificationDateTime": _fmt(r, modified, micro, 7),
            })
        return out

    def _line_cores(self, index: int, r: Callable[[], float]) -> list[_LineCore]:
        """The money side of an invoice's lines; shared by invoices and BillingItems."""
        tax_rate = _TAX_REGIONS[self._invoice_company[index] % len(_TAX_REGIONS)][1]
        cores: list[_LineCore] = []
        for _ in range(self._invoice_lines[index]):
            x = r()
            if x < 0.45:
                kind, name, rate = 1, _pick(r, _LABOR), _pick(r, _LABOR_RATES)
                quantity, taxed = _pick(r, _QUARTERS), False
            elif x < 0.65:
                kind, (name, rate) = 6, _pick(r, _PRODUCTS)
                quantity, taxed = _pick(r, _UNITS[:5]), True
            elif x < 0.95:
                kind, (name, rate) = 4, _pick(r, _SERVICES)
                quantity, taxed = _pick(r, _UNITS), False
            else:
                kind, name, rate = 2, "Travel expense", Decimal(1500 + int(r() * 28500)) * CENT
                quantity, taxed = _UNITS[0], False
            extended = (quantity * rate).quantize(CENT)
            tax = (extended * tax_rate).quantize(CENT) if taxed and tax_rate else ZERO
            cores.append((kind, name, quantity, rate, extended, tax))
        return cores

    def _batch(self, index: int) -> _Batch:
        """The monthly billing run invoice number `index` belongs to (cached per month)."""
        months = 12 * self.sizes.years
        number = index * months // max(1, self.invoices.count)
        batch = self._batches.get(number)
        if batch is None:
            day = _add_months(self.start, number + 1)
            period_start = _add_months(day, -1)
            day_number = day.toordinal() - _EPOCH_ORDINAL
            batch = _Batch(
                number=number,
                day_number=day_number,
                seconds=day_number * 86400,
                period_start_seconds=_secs(period_start),
                from_text=_fmt_date(period_start),
                to_text=_fmt_date(day - timedelta(days=1)),
                day_text=_fmt_date(day),
                due_texts={int(t["paymentDueInDays"]): _fmt_date_seconds(
                    (day_number + int(t["paymentDueInDays"])) * 86400)
                    for t in self.payment_terms},
            )
            self._batches[number] = batch
        return batch

    def _gen_invoices(self, chunk: int) -> list[Record]:
        r = self._rng(5, chunk).random
        core = self._rng(15, chunk).random
        table = self.invoices
        anchor_day = self.anchor.toordinal() - _EPOCH_ORDINAL
        terms = self.payment_terms
        first_term = terms[0]
        bad = self.bad_invoice_ids
        regions = _TAX_REGIONS
        resources = _RESOURCES
        out: list[Record] = []
        for index in self._indexes(table, chunk):
            batch = self._batch(index)
            created = batch.seconds + 6 * 3600 + int(r() * 4 * 3600)
            micro = int(r() * 1_000_000)
            company_index = self._invoice_company[index]
            term = first_term if r() < 0.6 else terms[int(r() * len(terms))]
            due_days = int(term["paymentDueInDays"])
            cores = self._line_cores(index, core)
            total = ZERO
            tax_total = ZERO
            for c in cores:
                total += c[4] + c[5]
                tax_total += c[5]
            age_days = anchor_day - batch.day_number
            voided = r() < 0.03
            paid_date: str | None = None
            if not voided and age_days > 0 and r() < (0.95 if age_days > 60 else 0.4):
                paid_day = batch.day_number + 1 + int(r() * (due_days + 20))
                if paid_day < anchor_day:
                    paid_date = _fmt_date_seconds(paid_day * 86400)
            exported = r() < 0.4
            invoice_id = table.id_at(index)
            record: Record = {
                "id": invoice_id,
                "batchID": 100 + batch.number,
                "comments": None if r() < 0.8 else "Thank you for your business!",
                "companyID": self.company_id(company_index),
                "createDateTime": _fmt(r, created, micro, 7),
                "creatorResourceID": resources[int(r() * len(resources))],
                "dueDate": batch.due_texts[due_days],
                "fromDate": batch.from_text,
                "toDate": batch.to_text,
                "invoiceDateTime": batch.day_text,
                "invoiceEditorTemplateID": 1,
                "invoiceNumber": str(1000 + index),
                "invoiceTotal": total,
                "isVoided": voided,
                "orderNumber": None if r() < 0.9 else f"PO-{10000 + int(r() * 89999)}",
                "paidDate": paid_date,
                "paymentTerm": term["id"],
                "taxGroup": 1 if tax_total else 3,
                "taxRegionName": regions[company_index % len(regions)][0],
                "totalTaxValue": tax_total,
                "voidedByResourceID": resources[int(r() * len(resources))] if voided else None,
                "voidedDate": _fmt(r, created + (1 + int(r() * 19)) * 86400, micro)
                if voided else None,
                "webServiceDate": _fmt(r, created + 2 * 86400, micro) if exported else None,
                "invoiceStatus": 4 if voided else (3 if paid_date else 2),
            }
            damage = bad.get(invoice_id) if bad else None
            if damage == "bad-date":
                record["invoiceDateTime"] = "0000-00-00T00:00:00"
            elif damage == "unknown-company":
                record["companyID"] = 1
            elif damage == "missing-total":
                record["invoiceTotal"] = None
            elif damage == "empty-number":
                record["invoiceNumber"] = ""
            out.append(record)
        return out

    def _gen_billing_items(self, chunk: int) -> list[Record]:
        core = self._rng(15, chunk).random
        r = self._rng(25, chunk).random
        invoices = self.invoices
        tickets = self.tickets.count
        stride = BillingItemsTable.LINES_STRIDE
        base = self.billing_items.base
        out: list[Record] = []
        for index in self._indexes(invoices, chunk):
            batch = self._batch(index)
            period_start = batch.period_start_seconds
            posted = batch.seconds - 7 * 3600
            invoice_id = invoices.id_at(index)
            company_index = self._invoice_company[index]
            company_id = self.company_id(company_index)
            contract_id = self.contract_id(company_index)
            for k, (kind, name, quantity, rate, extended, tax) in enumerate(
                    self._line_cores(index, core)):
                labor = kind == 1
                out.append({
                    "id": base + stride * index + k,
                    "invoiceID": invoice_id,
                    "companyID": company_id,
                    "contractID": contract_id if kind == 4 else None,
                    "ticketID": self.tickets.id_at(int(r() * tickets))
                    if labor and tickets else None,
                    "itemName": name,
                    "description": f"{name}: {_pick(r, _TICKET_TITLES)}".replace(
                        "{n}", _pick(r, _FIRST)) if labor else name,
                    "billingItemType": kind,
                    "itemDate": _fmt_date_seconds(period_start + int(r() * 28) * 86400),
                    "postedDate": _fmt(r, posted, int(r() * 1_000_000)),
                    "quantity": quantity,
                    "rate": rate,
                    "extendedPrice": extended,
                    "taxDollars": tax,
                    "totalAmount": extended + tax,
                    "ourCost": (extended * _COST_SHARE).quantize(CENT),
                    "webServiceDate": None,
                })
        return out

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
                "billingItemType": 6, "itemDate": _fmt_date(day),
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
            "fromDate": _fmt_date(_add_months(day, -1)),
            "toDate": _fmt_date(day - timedelta(days=1)),
            "invoiceDateTime": _fmt_date(day), "invoiceEditorTemplateID": 1,
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


@functools.lru_cache(maxsize=65_536)
def index_datetime(value: str) -> datetime | None:
    """A stored timestamp as the query engine compares it (None when unreadable)."""
    try:
        return parse_autotask_datetime(value)
    except ValueError:
        return None


def parse_record_datetime(value: str) -> datetime | None:
    """Read a stored timestamp (both of Autotask's shapes); None when unreadable."""
    try:
        return parse_autotask_datetime(value)
    except ValueError:
        return None
