"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

JSONType = JSON().with_variant(JSONB(), "postgresql")


def json_text(value: Any, **fallback: Any) -> str:
    """The engine's JSON serializer: orjson, compact UTF-8 (what the standard library's `json.dumps` gives with
    `ensure_ascii=False` and no spaces). Intake writes about a dozen JSON values an input (event details, headers,
    Cc lists), and the standard library's encoder was most of what the register's flush spent on its rows.

    Whatever orjson would write differently from the standard library goes to `json.dumps(value, **fallback)`,
    as before: a lone surrogate, a non-string key, an integer over 64 bits, subclasses of str, int, dict and list,
    and datetimes and dataclasses (which the standard library refuses, as the register always has). Two
    differences stay: NaN and infinities, which are not JSON, are written as null; an enum is written as its value
    (the standard library refuses one that is not also a str or an int)."""
    try:
        return orjson.dumps(value, default=_not_orjsons, option=_ORJSON_OPTIONS).decode()
    except TypeError:
        return json.dumps(value, **fallback)


_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def _not_orjsons(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__}: left to the standard library")


class UTCDateTime(TypeDecorator[datetime]):
    """Always hand back timezone-aware UTC datetimes: SQLite forgets the zone, PostgreSQL keeps it."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
