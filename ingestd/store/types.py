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


def json_text(value: Any) -> str:
    """The engine's JSON serializer: orjson, compact UTF-8 (what the standard library's `json.dumps` gives with
    `ensure_ascii=False` and no spaces). Intake writes about a dozen JSON values an input (event details, headers,
    Cc lists), and the standard library's encoder was most of what the register's flush spent on its rows. What
    orjson refuses (a lone surrogate, a non-string key, an integer over 64 bits) is written by the standard
    library instead, as before."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


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
