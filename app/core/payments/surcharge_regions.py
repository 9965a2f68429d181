"""Where a card surcharge may not be added: US states and territories and Canadian provinces,
named by ISO 3166-2 codes ("US-CT", "CA-QC").

Surcharge law changes (states have banned, capped and un-banned surcharges within a few
years), so the list is a setting the MSP keeps (``SurchargeSettings.not_allowed_in``) and
:data:`DEFAULT_NOT_ALLOWED_IN` is only a careful starting point: the places that prohibited
credit-card surcharges when this list was written, plus Quebec. **The MSP must check the
current law** for every state where it has clients; the Settings screen says so.

An organization's region comes from its Autotask address (``state`` and the ``countryID``
picklist's label). When the country is missing, a state code that belongs to exactly one of
the two countries is taken as that country's; a place PayDesk cannot tell is not matched.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.storage.models import Organization, PicklistValue

__all__ = [
    "DEFAULT_NOT_ALLOWED_IN",
    "REGION_NAMES",
    "normalise_regions",
    "organization_region",
    "region_name",
    "surcharge_region",
]

_US = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
    "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
    "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee",
    "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "PR": "Puerto Rico",
    "GU": "Guam", "VI": "U.S. Virgin Islands",
}
_CA = {
    "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador", "NS": "Nova Scotia", "NT": "Northwest Territories",
    "NU": "Nunavut", "ON": "Ontario", "PE": "Prince Edward Island", "QC": "Quebec",
    "SK": "Saskatchewan", "YT": "Yukon",
}

#: Every region the list can hold, by code, with its name ("US-CT" → "Connecticut").
REGION_NAMES: dict[str, str] = {
    **{f"US-{code}": name for code, name in _US.items()},
    **{f"CA-{code}": name for code, name in _CA.items()},
}

#: The starting list: where credit-card surcharges were prohibited when it was written
#: (Connecticut, Maine, Massachusetts, Oklahoma, Puerto Rico) and Quebec (consumer
#: protection law). Check the current law: this is not legal advice.
DEFAULT_NOT_ALLOWED_IN: tuple[str, ...] = ("CA-QC", "US-CT", "US-MA", "US-ME", "US-OK", "US-PR")

_COUNTRY_ALIASES = {
    "us": "US", "usa": "US", "u.s.": "US", "u.s.a.": "US", "united states": "US",
    "united states of america": "US", "ca": "CA", "can": "CA", "canada": "CA",
    "puerto rico": "US-PR", "pr": "US-PR",
}
_NAMES_TO_CODES = {
    country: {name.casefold(): code for code, name in table.items()}
    for country, table in (("US", _US), ("CA", _CA))
}


def region_name(code: str) -> str:
    """"Connecticut" for "US-CT"; the code itself when unknown."""
    return REGION_NAMES.get(code, code)


def _state_code(country: str, state: str) -> str | None:
    table = _US if country == "US" else _CA
    upper = state.strip().upper().removeprefix(f"{country}-")
    if upper in table:
        return upper
    return _NAMES_TO_CODES[country].get(state.strip().casefold())


def surcharge_region(state: str | None, country: str | None) -> str | None:
    """The region code ("US-CT") of an address, or None when PayDesk cannot tell.

    ``country`` is the country's name or code as Autotask shows it ("United States").
    """
    country_key = (country or "").strip().casefold()
    resolved = _COUNTRY_ALIASES.get(country_key)
    if resolved is not None and resolved.startswith("US-"):
        return resolved  # Puerto Rico as a country
    if not (state or "").strip():
        return None
    assert state is not None
    if resolved is not None:
        code = _state_code(resolved, state)
        return f"{resolved}-{code}" if code else None
    if country_key:
        return None  # another country: its own rules, not on this list
    matches = [f"{c}-{code}" for c in ("US", "CA") if (code := _state_code(c, state))]
    return matches[0] if len(matches) == 1 else None


def normalise_regions(codes: Iterable[str]) -> tuple[str, ...]:
    """Known codes only, each once, in a stable order (for storing and comparing)."""
    known = {code.strip().upper() for code in codes} & REGION_NAMES.keys()
    return tuple(sorted(known))


def organization_region(session: Session, org: Organization) -> str | None:
    """The organization's region code ("US-CT") from its Autotask address: the state and
    the label of its ``countryID`` picklist value (codes differ per Autotask tenant)."""
    country = org.country
    if country:
        label = session.scalar(
            select(PicklistValue.label).where(
                PicklistValue.entity == "Companies", PicklistValue.field == "countryID",
                PicklistValue.value == country))
        country = label or country
    return surcharge_region(org.state, country)
