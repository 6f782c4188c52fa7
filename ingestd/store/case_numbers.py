"""Human case numbers from a pattern such as `TS-{yyyy}{mm}-{seq:05d}`, never handed out twice.

The sequence is kept per scope (the pattern rendered without its `seq`), so `TS-{yyyy}{mm}-...` counts
per month, on one counter row (`UPDATE ... RETURNING`).

SQLite (one writer at a time): the number is taken inside the intake transaction, so a rolled-back
transaction gives it back unused. PostgreSQL (`NumberPool`): in a short transaction of its own, because a
counter row locked until an intake batch commits makes every other batch that opens a case wait for it,
mailbox threads of one worker and other workers alike. A number whose input fails (its savepoint), or whose
batch is redone input by input, is given back to the pool and used by the next case; a crash, or a
transaction that fails as a whole (the database gone), leaves a gap.
"""

from __future__ import annotations

import heapq
import re
import string
import threading
import weakref
from collections import defaultdict
from datetime import datetime

from sqlalchemy import Engine, text
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


_CREATE = {"postgresql": "INSERT INTO case_counters (scope, last) VALUES (:s, 0) ON CONFLICT (scope) DO NOTHING",
           "sqlite": "INSERT OR IGNORE INTO case_counters (scope, last) VALUES (:s, 0)"}
_NEXT = "UPDATE case_counters SET last = last + 1 WHERE scope = :s RETURNING last"
SET_LAST = "UPDATE case_counters SET last = :last WHERE scope = :s"


def read_counter(session: Session, scope: str) -> int:
    """The scope's last number, creating its counter row if need be (for a caller that counts on itself
    while it is the only writer: see `Register.case_number`)."""
    session.execute(text(_CREATE[session.get_bind().dialect.name]), {"s": scope})
    return int(session.execute(text("SELECT last FROM case_counters WHERE scope = :s"), {"s": scope}).scalar_one())


def allocate(session: Session, pattern: str, when: datetime, known_scopes: set[str] | None = None) -> str:
    """The next number, in the caller's transaction; `known_scopes` (per transaction) saves creating the
    counter row again."""
    scope = scope_of(pattern, when)
    if known_scopes is None or scope not in known_scopes:
        session.execute(text(_CREATE[session.get_bind().dialect.name]), {"s": scope})
        if known_scopes is not None:
            known_scopes.add(scope)
    seq = session.execute(text(_NEXT), {"s": scope}).scalar_one()
    return render(pattern, when, int(seq))


class NumberPool:
    """Numbers taken from the counter in transactions of their own (PostgreSQL), and the ones given back."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._spare: dict[str, list[int]] = defaultdict(list)
        self._lock = threading.Lock()

    def take(self, scope: str) -> int:
        with self._lock:
            if self._spare[scope]:
                return heapq.heappop(self._spare[scope])
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(_CREATE[self.engine.dialect.name]), {"s": scope})
            return int(conn.execute(text(_NEXT), {"s": scope}).scalar_one())

    def give_back(self, scope: str, seq: int) -> None:
        with self._lock:
            heapq.heappush(self._spare[scope], seq)


_POOLS: weakref.WeakKeyDictionary[Engine, NumberPool] = weakref.WeakKeyDictionary()
_POOLS_LOCK = threading.Lock()


def pool_for(engine: Engine) -> NumberPool | None:
    """The engine's number pool, or None where numbers are taken in the intake transaction (SQLite)."""
    if engine.dialect.name != "postgresql":
        return None
    with _POOLS_LOCK:
        if engine not in _POOLS:
            _POOLS[engine] = NumberPool(engine)
        return _POOLS[engine]
