"""Human case numbers from a pattern such as `TS-{yyyy}{mm}-{seq:05d}`, never handed out twice.

The sequence is kept per scope (the pattern rendered without its `seq`), so `TS-{yyyy}{mm}-...` counts
per month. Allocation is an UPDATE ... RETURNING on one counter row inside the intake transaction:
concurrent workers queue on that row, and a rolled-back transaction gives its number back unused.
"""

from __future__ import annotations

import re
import string
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

FIELDS = {"yyyy", "yy", "mm", "dd", "seq"}


class PatternError(ValueError):
    pass


def validate_pattern(pattern: str) -> None:
    names = [f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None]
    unknown = set(names) - FIELDS
    if unknown:
        raise PatternError(f"unknown field(s) {sorted(unknown)} in case number pattern; use {sorted(FIELDS)}")
    if names.count("seq") != 1:
        raise PatternError("case number pattern needs exactly one {seq} field, e.g. {seq:05d}")
    render(pattern, datetime(2026, 1, 1), 1)


def render(pattern: str, when: datetime, seq: int) -> str:
    return pattern.format(yyyy=f"{when.year:04d}", yy=f"{when.year % 100:02d}", mm=f"{when.month:02d}",
                          dd=f"{when.day:02d}", seq=seq)


def scope_of(pattern: str, when: datetime) -> str:
    head = pattern.replace("{seq", "{{seq")
    head = re.sub(r"\{\{seq[^}]*\}", "#", head)
    return head.format(yyyy=f"{when.year:04d}", yy=f"{when.year % 100:02d}", mm=f"{when.month:02d}",
                       dd=f"{when.day:02d}")


def matcher(pattern: str) -> re.Pattern[str]:
    """A regex that finds case numbers of this pattern in free text (e.g. a reply's subject)."""
    out = []
    for literal, field, spec, _ in string.Formatter().parse(pattern):
        out.append(re.escape(literal))
        if field in ("yyyy",):
            out.append(r"\d{4}")
        elif field in ("yy", "mm", "dd"):
            out.append(r"\d{2}")
        elif field == "seq":
            width = re.search(r"(\d+)d", spec or "")
            out.append(rf"\d{{{int(width.group(1))},}}" if width else r"\d+")
    return re.compile(r"(?<![\w-])" + "".join(out) + r"(?!\d)")


def allocate(session: Session, pattern: str, when: datetime, known_scopes: set[str] | None = None) -> str:
    """The next number; `known_scopes` (per transaction) saves creating the counter row again."""
    scope = scope_of(pattern, when)
    if known_scopes is None or scope not in known_scopes:
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            insert = "INSERT INTO case_counters (scope, last) VALUES (:s, 0) ON CONFLICT (scope) DO NOTHING"
        else:
            insert = "INSERT OR IGNORE INTO case_counters (scope, last) VALUES (:s, 0)"
        session.execute(text(insert), {"s": scope})
        if known_scopes is not None:
            known_scopes.add(scope)
    seq = session.execute(
        text("UPDATE case_counters SET last = last + 1 WHERE scope = :s RETURNING last"), {"s": scope}
    ).scalar_one()
    return render(pattern, when, int(seq))
