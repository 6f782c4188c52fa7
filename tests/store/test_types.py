"""The register's column types: JSON written by orjson, with the standard library for what orjson refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from ingestd.store.db import Database
from ingestd.store.models import Case
from ingestd.store.register import Register
from ingestd.store.types import json_text


def test_json_is_compact_utf8_text_that_reads_back_as_written() -> None:
    value = {"department": "物流部", "hits": [1, 2.5, None, True], "nested": {"a": ["<x@例子.cn>"]}}
    written = json_text(value)
    assert written == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert json.loads(written) == value


@pytest.mark.parametrize("value", [
    {"raw": "bytes the parser kept as \udc8e"},  # a lone surrogate: orjson refuses it
    {1: "an integer key"},
    {"big": 2 ** 70},
])
def test_what_orjson_refuses_is_written_by_the_standard_library(value: dict[object, object]) -> None:
    assert json_text(value) == json.dumps(value)


def test_what_the_standard_library_would_write_differently_or_refuse_is_left_to_it() -> None:
    """orjson would write datetimes and dataclasses, which the standard library refuses, as the register always
    has (a caller turns a date into text): they are refused still. An enum is written as its value."""
    import enum
    from dataclasses import dataclass

    class Grade(enum.StrEnum):
        MAJOR = "重大"

    @dataclass
    class Point:
        x: int

    assert json.loads(json_text({"grade": Grade.MAJOR})) == json.loads(json.dumps({"grade": Grade.MAJOR}))
    for refused in ({"at": datetime(2026, 1, 1)}, {"p": Point(1)}):
        with pytest.raises(TypeError):
            json_text(refused)
    assert json_text({"c": float("nan")}) == '{"c":null}'  # not JSON at all: the one difference kept


def test_an_event_detail_goes_into_the_register_as_readable_utf8(db_url: str) -> None:
    """Given an event whose detail holds Chinese text (and, on SQLite, one with a lone surrogate, which only the
    standard library writes), when they are flushed by a buffered register and read back raw, then the first is
    stored as UTF-8 text, not \\u escapes, and each reads back equal to what was logged."""
    db = Database(db_url)
    db.migrate()
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    details: list[dict[str, object]] = [{"department": "物流部", "n": 1}]
    if db.dialect == "sqlite":  # PostgreSQL's JSONB refuses a lone surrogate's escape, whoever writes it
        details.append({"note": "raw \udc8e byte"})
    with db.write() as session:
        register = Register(session, buffered=True)
        case_id = register.insert_row(Case, {"case_no": "T-1", "channel": "email", "status": "open",
                                             "received_at": now, "created_at": now, "updated_at": now,
                                             "source": "test"})
        for detail in details:
            register.log_event(case_id, "note", now, **detail)
        register.flush()
    with db.read() as session:
        stored = [row[0] for row in session.execute(text("SELECT detail FROM case_events ORDER BY id"))]
    if db.dialect == "sqlite":
        assert stored[0] == '{"department":"物流部","n":1}'
        assert [json.loads(s) for s in stored] == details
    else:  # JSONB hands back the value
        assert stored == details
