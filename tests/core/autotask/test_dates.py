"""Autotask's date and time shapes: with or without Z, 0–7 fractional digits, naive = UTC."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from app.core.autotask import dates
from app.core.autotask.dates import (
    AutotaskDateError,
    format_autotask_date,
    format_autotask_datetime,
    parse_autotask_date,
    parse_autotask_datetime,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("2016-03-30T13:10:35.563", datetime(2016, 3, 30, 13, 10, 35, 563000, tzinfo=UTC)),
    ("2016-03-30T13:10:35.563Z", datetime(2016, 3, 30, 13, 10, 35, 563000, tzinfo=UTC)),
    ("2016-03-30T13:10:35", datetime(2016, 3, 30, 13, 10, 35, tzinfo=UTC)),
    ("2016-03-30T13:10:35Z", datetime(2016, 3, 30, 13, 10, 35, tzinfo=UTC)),
    ("2016-03-30T13:10:35.5", datetime(2016, 3, 30, 13, 10, 35, 500000, tzinfo=UTC)),
    ("2016-03-30T13:10:35.56", datetime(2016, 3, 30, 13, 10, 35, 560000, tzinfo=UTC)),
    ("2016-03-30T13:10:35.123456", datetime(2016, 3, 30, 13, 10, 35, 123456, tzinfo=UTC)),
    ("2016-03-30T13:10:35.1234567Z", datetime(2016, 3, 30, 13, 10, 35, 123456, tzinfo=UTC)),
    ("2016-03-30T13:10", datetime(2016, 3, 30, 13, 10, tzinfo=UTC)),
    ("2016-03-30", datetime(2016, 3, 30, tzinfo=UTC)),
    ("2016-03-30T13:10:35-05:00", datetime(2016, 3, 30, 18, 10, 35, tzinfo=UTC)),
    ("2016-03-30T13:10:35.25+0200", datetime(2016, 3, 30, 11, 10, 35, 250000, tzinfo=UTC)),
    (" 2016-03-30T13:10:35 ", datetime(2016, 3, 30, 13, 10, 35, tzinfo=UTC)),
])
def test_parses_every_shape_autotask_sends_as_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_autotask_datetime(text)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is UTC


@pytest.mark.parametrize("text", [None, "", "   "])
def test_empty_values_are_none(text: str | None) -> None:
    assert parse_autotask_datetime(text) is None
    assert parse_autotask_date(text) is None


@pytest.mark.parametrize("text", ["0000-00-00T00:00:00", "yesterday", "2016-13-01T00:00:00",
                                  "2016-03-30T25:00:00", "2016-03-30T13:10:35.12345678",
                                  "30/03/2016"])
def test_unreadable_values_raise_a_value_error(text: str) -> None:
    with pytest.raises(AutotaskDateError):
        parse_autotask_datetime(text)


def test_date_only_fields_keep_the_written_date() -> None:
    assert parse_autotask_date("2024-02-29T00:00:00") == date(2024, 2, 29)
    assert parse_autotask_date("2024-02-29") == date(2024, 2, 29)
    assert parse_autotask_date("2024-02-29T23:30:00-05:00") == date(2024, 2, 29)


def test_formatting_round_trips() -> None:
    moment = datetime(2024, 5, 1, 8, 0, 1, 250000, tzinfo=timezone(timedelta(hours=2)))
    text = format_autotask_datetime(moment)
    assert text == "2024-05-01T06:00:01.250Z"
    assert parse_autotask_datetime(text) == moment
    assert format_autotask_date(date(2024, 5, 1)) == "2024-05-01"
    with pytest.raises(ValueError):
        format_autotask_datetime(datetime(2024, 5, 1))  # naive: refused


def test_the_fast_path_reads_exactly_what_the_careful_parser_reads(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(20261126)
    texts = ["".join(rng.choice("0123456789-T:.Z +z") for _ in range(rng.randrange(15, 30)))
             for _ in range(20_000)]
    texts += ["2024-05-01T08:00:00" + "".join(rng.choice("0123456789.Z")
                                               for _ in range(rng.randrange(0, 10)))
              for _ in range(20_000)]
    texts += ["20{:02d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}".format(
        *(rng.randrange(0, 40) for _ in range(6))) for _ in range(5_000)]

    def read(text: str) -> object:
        try:
            return parse_autotask_datetime(text)
        except AutotaskDateError as error:
            return type(error)

    fast = [read(t) for t in texts]
    assert sum(isinstance(v, datetime) for v in fast) > 2_000
    monkeypatch.setattr(dates, "_fast_datetime", lambda text: None)
    careful = [read(t) for t in texts]
    assert fast == careful
    assert all(v.utcoffset() == timedelta(0) for v in fast if isinstance(v, datetime))
