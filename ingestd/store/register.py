"""Reads and writes on the case register within one session (one transaction)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import JSON, Connection, Dialect, Table, bindparam, event, func, insert, or_, text, update
from sqlalchemy import inspect as inspect_model
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session, SQLModel, select

from ingestd.store import case_numbers
from ingestd.store.models import Case, CaseEvent, Message, OutboxMessage, QuarantineEntry
from ingestd.store.types import UTCDateTime

_CASES = inspect_model(Case).class_manager
# Tables whose ids a buffered register hands out itself, so that their rows, and the rows that point at
# them, wait for one executemany per batch instead of an INSERT ... RETURNING each.
PRESET_IDS: tuple[type[SQLModel], ...] = (Case, Message, OutboxMessage)
_PRESET_TABLES = {model.__table__: model for model in PRESET_IDS}  # type: ignore[attr-defined]
_TABLE_ORDER = {table: rank for rank, table in enumerate(SQLModel.metadata.sorted_tables)}


class Register:
    """The register as seen from one transaction; the pipeline's record stage writes through it.

    `buffered` (the intake runner's batches): rows nobody reads back within the batch (events, outbound
    message copies, attachments, small updates of a case) are collected and written with one executemany
    per kind when `flush()` is called, or just before the ORM next writes, so their order is kept. A
    statement costs about a millisecond here whatever its size; intake writes a dozen rows per input.
    New cases, messages and outbox rows wait too: `insert_row` gives them their id at once (`new_id`).
    Whoever reads one of those tables in the same transaction calls `flush()` first (the runner does
    so before any input that joins an existing case); any other INSERT into a table with ids handed out
    here flushes first by itself (`_before_execute`). `memo` holds what a batch looked up once for all
    its inputs (see `prefetch_earlier_cases` and the responders' `prepare`).
    """

    def __init__(self, session: Session, *, buffered: bool = False) -> None:
        self.session = session
        self.buffered = buffered
        self.case_scopes: set[str] = set()  # case-number counters known to exist in this transaction
        self.memo: dict[str, Any] = {}
        self._by_message_id: dict[str, tuple[int, str]] = {}
        self._looked_up: set[str] = set()
        self._inserts: dict[tuple[type[SQLModel], tuple[str, ...]], list[dict[str, Any]]] = defaultdict(list)
        self._updates: dict[tuple[type[SQLModel], tuple[str, ...]], list[dict[str, Any]]] = defaultdict(list)
        # since, complainant key → their cases, and the keys looked up (others are asked for one by one)
        self._earlier: tuple[datetime, dict[str, list[tuple[int, str, str, str]]], set[str]] | None = None
        self._received: dict[int, datetime] = {}  # when each case in `_earlier` was received: the order of "newest"
        self._opened: list[Case] = []  # the session holds clean objects weakly: `add_case` keeps them alive
        self._undo: list[Callable[[], None]] | None = None
        self._numbers: list[tuple[case_numbers.NumberPool, str, int]] = []  # taken from a pool (PostgreSQL)
        self._counters: dict[str, int] = {}  # SQLite: each case-number scope's last number, written at `flush`
        self._counters_dirty: set[str] = set()
        self._next_ids: dict[type[SQLModel], int] = {}  # SQLite: the next free id of each table
        self._drawn_ids: dict[type[SQLModel], list[int]] = defaultdict(list)  # PostgreSQL: from its sequence
        self._waiting_cases: dict[int, dict[str, Any]] = {}  # new cases not written yet, by id (`update_case`)
        self._writing = False
        self.expected = 0  # how many inputs the batch has: how many ids to draw from a sequence at once
        if buffered:
            event.listen(session, "before_flush", self._before_orm_flush)
            event.listen(session.connection(), "before_execute", self._before_execute)

    # -- lookups (threading, idempotency) -------------------------------------------------------
    def prefetch_message_ids(self, message_ids: Iterable[str]) -> None:
        """Look up a whole batch's Message-IDs (own, In-Reply-To, References) in one query per 500."""
        wanted = [m for m in dict.fromkeys(message_ids) if m and m not in self._looked_up]
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = self.session.exec(
                select(Message.message_id, Case.id, Case.case_no)
                .join(Case, Message.case_id == Case.id)
                .where(Message.message_id.in_(chunk))  # type: ignore[union-attr]
            ).all()
            for mid, case_id, case_no in rows:
                self._by_message_id.setdefault(mid, (case_id, case_no))
            self._looked_up.update(chunk)

    def remember(self, message_id: str | None, case_id: int, case_no: str) -> None:
        """A message committed in this transaction: later inputs of the batch thread onto it."""
        if message_id and message_id not in self._by_message_id:
            self._by_message_id[message_id] = (case_id, case_no)
            self._looked_up.add(message_id)
            self.on_undo(lambda: self._by_message_id.pop(message_id, None))

    @contextmanager
    def scope(self) -> Iterator[None]:
        """One input in its savepoint: if it fails, what this register collected or learned for it
        (buffered rows, opened cases, remembered Message-IDs) goes with the rolled-back rows."""
        self.flush()
        self._undo = []
        try:
            yield
        except BaseException:
            self._inserts.clear()
            self._updates.clear()
            self._waiting_cases.clear()
            self.case_scopes.clear()  # a counter row it created is rolled back: the next case creates it again
            self._counters.clear()  # and the numbers it took: the next case reads the counter again
            self._counters_dirty.clear()
            for undo in reversed(self._undo):
                undo()
            raise
        finally:
            self._undo = None

    def on_undo(self, undo: Callable[[], None]) -> None:
        """Run `undo` if the current input fails (see `scope`): for whatever a caller keeps in `memo`."""
        if self._undo is not None:
            self._undo.append(undo)

    def case_by_message_id(self, message_id: str) -> tuple[int, str] | None:
        if message_id in self._by_message_id:
            return self._by_message_id[message_id]
        if message_id in self._looked_up:
            return None
        row = self.session.exec(
            select(Case.id, Case.case_no)
            .join(Message, Message.case_id == Case.id)
            .where(Message.message_id == message_id)
            .limit(1)
        ).first()
        return (row[0], row[1]) if row else None

    def case_by_number(self, case_no: str) -> tuple[int, str] | None:
        for case in self._opened:  # opened in this transaction: perhaps not written yet
            if case.case_no == case_no:
                return int(case.id), case.case_no  # type: ignore[arg-type]
        row = self.session.exec(select(Case.id, Case.case_no).where(Case.case_no == case_no)).first()
        return (row[0], row[1]) if row else None

    def earlier_cases(self, email: str | None, phone: str | None, since: datetime, *,
                      limit: int = 20) -> list[tuple[int, str, str, str]]:
        """This complainant's cases (same email or phone) opened since `since`, newest first: what a repeat
        complaint (二次投诉) is looked for in: (id, case_no, subject, description)."""
        keys = [key for key in (f"e:{email}" if email else "", f"p:{phone}" if phone else "") if key]
        if self._earlier is not None and self._earlier[0] == since and all(k in self._earlier[2] for k in keys):
            index = self._earlier[1]
            found = {row[0]: row for key in keys for row in index.get(key, ())}
            newest = sorted(found, key=lambda i: (self._received[i], i), reverse=True)
            return [found[i] for i in newest[:limit]]
        conditions = [c for c in (Case.complainant_email == email if email else None,
                                  Case.complainant_phone == phone if phone else None) if c is not None]
        if not conditions:
            return []
        rows = self.session.exec(select(Case.id, Case.case_no, Case.subject, Case.description)
                                 .where(or_(*conditions), Case.received_at >= since)
                                 .order_by(Case.received_at.desc(), Case.id.desc())  # type: ignore[attr-defined]
                                 .limit(limit)).all()
        return [(i, n, s or "", (d or "")[:4000]) for i, n, s, d in rows]

    def prefetch_earlier_cases(self, complainants: Iterable[tuple[str | None, str | None]], since: datetime) -> None:
        """`earlier_cases` for a whole batch in one query per 500 complainants; cases this transaction opens
        are added as they are recorded (`add_case`), so a batch sees its own earlier inputs too."""
        pairs = list(dict.fromkeys(complainants))
        emails = sorted({e for e, _ in pairs if e})
        phones = sorted({p for _, p in pairs if p})
        index: dict[str, list[tuple[int, str, str, str]]] = defaultdict(list)
        for start in range(0, max(len(emails), len(phones)), 500):
            chunk_e, chunk_p = emails[start:start + 500], phones[start:start + 500]
            conditions = [c for c in (Case.complainant_email.in_(chunk_e) if chunk_e else None,  # type: ignore[union-attr]
                                      Case.complainant_phone.in_(chunk_p) if chunk_p else None) if c is not None]
            rows = self.session.exec(select(Case.id, Case.case_no, Case.subject,
                                            func.substr(Case.description, 1, 4000),
                                            Case.complainant_email, Case.complainant_phone, Case.received_at)
                                     .where(or_(*conditions), Case.received_at >= since)).all()
            for i, n, subj, desc, e, p, received in rows:
                self._received[i] = received
                for key in (f"e:{e}" if e in chunk_e else "", f"p:{p}" if p in chunk_p else ""):
                    if key and all(r[0] != i for r in index[key]):
                        index[key].append((i, n, subj or "", desc or ""))
        self._earlier = (since, index, {f"e:{e}" for e in emails} | {f"p:{p}" for p in phones})

    def referenced_blobs(self) -> tuple[set[str], list[OutboxMessage]]:
        """Every blob a row refers to (raw messages, attachments, quarantined bytes, outbox messages), and the
        outbox rows still waiting to be sent (their drafts name attachments too): what the sweep keeps."""
        from ingestd.store.models import Attachment

        found: set[str] = set()
        for query in (select(Message.raw_sha256), select(Attachment.sha256), select(QuarantineEntry.raw_sha256),
                      select(OutboxMessage.raw_sha256)):
            found.update(d for d in self.session.exec(query) if d)
        waiting = list(self.session.exec(select(OutboxMessage).where(
            OutboxMessage.status.in_(("queued", "sending")))).all())  # type: ignore[attr-defined]
        return found, waiting

    def held_inputs(self, digests: list[str]) -> dict[str, tuple[str, str | None]]:
        """Which of these inputs the register holds already: sha256 → ("case", case_no) for bytes on a
        case, ("quarantine", None) for bytes parked in quarantine."""
        held: dict[str, tuple[str, str | None]] = {}
        for digest, case_no in self.session.exec(
            select(Message.raw_sha256, Case.case_no)
            .join(Case, Message.case_id == Case.id)
            .where(Message.raw_sha256.in_(digests), Message.direction == "in")  # type: ignore[union-attr]
        ):
            held.setdefault(digest, ("case", case_no))
        for digest in self.session.exec(
            select(QuarantineEntry.raw_sha256)
            .where(QuarantineEntry.raw_sha256.in_(digests), QuarantineEntry.status == "parked")  # type: ignore[attr-defined]
        ):
            held.setdefault(digest, ("quarantine", None))
        return held

    def seen_input(self, sha256: str) -> tuple[str, str | None] | None:
        return self.held_inputs([sha256]).get(sha256)

    # -- writes ---------------------------------------------------------------------------------
    def insert_values(self, model: type[SQLModel], values: dict[str, Any]) -> int:
        """INSERT one new row with Core, over the model's column defaults, and return its id. Intake writes
        thousands of rows a second; building ORM objects for them costs more than the INSERT itself."""
        table = model.__table__  # type: ignore[attr-defined]
        row = {**_column_defaults(model), **values}
        return int(self.session.execute(insert(table).returning(table.c.id), row).scalar_one())

    def insert_later(self, model: type[SQLModel], values: dict[str, Any]) -> None:
        """INSERT a row whose id nobody needs: now if unbuffered, else at the next `flush()`."""
        if not self.buffered:
            self.insert_values(model, values)
            return
        if model in PRESET_IDS:  # its id is handed out here like the others of its table
            self.insert_row(model, values)
            return
        row = {**_column_defaults(model), **values}
        self._keep_order()
        self._inserts[(model, tuple(sorted(row)))].append(row)

    def insert_row(self, model: type[SQLModel], values: dict[str, Any]) -> int:
        """INSERT a row whose id is needed now (a case, a message, an outbox row). Buffered, the id is handed
        out here and the row waits for `flush()` like the others; otherwise it is inserted at once."""
        if not (self.buffered and model in PRESET_IDS):
            return self.insert_values(model, values)
        row_id = self.new_id(model)
        row = {**_blank_row(model), **values, "id": row_id}  # one shape per table: rows go in in order
        self._keep_order()
        self._inserts[(model, tuple(sorted(row)))].append(row)
        if model is Case:
            self._waiting_cases[row_id] = row
        return row_id

    def new_id(self, model: type[SQLModel]) -> int:
        """An id no other row of `model` has or will get. SQLite: one past the largest, counted on in memory
        (this transaction is the only writer: BEGIN IMMEDIATE). PostgreSQL: drawn from the table's own
        sequence, as many as the batch has inputs at a time; the ones left over are gaps, as a rolled-back
        insert leaves."""
        if model in self._next_ids:  # SQLite, counting on in memory (four ids an input: no statement for them)
            row_id = self._next_ids[model]
            self._next_ids[model] = row_id + 1
            return row_id
        if self._drawn_ids.get(model):  # PostgreSQL, ids left of those drawn for the batch
            return int(self._drawn_ids[model].pop())
        table = model.__table__  # type: ignore[attr-defined]
        with self._own_statements() as connection:
            if connection.dialect.name == "postgresql":
                drawn = self._drawn_ids[model]
                if not drawn:
                    drawn.extend(connection.execute(text(
                        f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
                        "FROM generate_series(1, :n)"), {"n": max(self.expected, 1)}).scalars())
                    drawn.reverse()
                return int(drawn.pop())
            if model not in self._next_ids:
                self._next_ids[model] = int(connection.execute(
                    text(f"SELECT coalesce(max(id), 0) FROM {table.name}")).scalar_one()) + 1
        row_id = self._next_ids[model]
        self._next_ids[model] = row_id + 1
        return row_id

    def add_case(self, case_id: int, values: dict[str, Any]) -> Case:
        """A case this transaction has just inserted (with Core): put it in the session as if loaded, so
        that responders get it without reading it back, and later inputs of the batch see it as an
        earlier case of its complainant."""
        case = _CASES.new_instance()  # as a query would build it: no validation, every column set
        instance_state(case).dict.update({**_blank_row(Case), **values, "id": case_id})
        make_transient_to_detached(case)
        self.session.add(case)
        self._opened.append(case)
        self.on_undo(lambda: self._forget_case(case))
        if self._earlier is not None:
            index = self._earlier[1]
            row = (case_id, str(values["case_no"]), values.get("subject") or "",
                   (values.get("description") or "")[:4000])
            self._received[case_id] = values["received_at"]
            for key in (f"e:{values.get('complainant_email')}" if values.get("complainant_email") else "",
                        f"p:{values.get('complainant_phone')}" if values.get("complainant_phone") else ""):
                if key:
                    index[key].append(row)
                    self.on_undo(lambda rows=index[key], row=row: rows.remove(row))  # type: ignore[misc]
        return case

    def _forget_case(self, case: Case) -> None:
        if case in self.session:
            self.session.expunge(case)
        self._opened.remove(case)

    def case_number(self, pattern: str, when: datetime) -> str:
        """A new case number. On PostgreSQL it comes from the process's `NumberPool`: a failed input gives it
        back at once (`scope`), a failed transaction through `give_back_numbers`."""
        pool = case_numbers.pool_for(self.session.get_bind().engine)
        if pool is None and not self.buffered:
            return case_numbers.allocate(self.session, pattern, when, self.case_scopes)
        if pool is None:
            return self._counted_number(pattern, when)
        scope = case_numbers.scope_of(pattern, when)
        seq = pool.take(scope)
        taken = (pool, scope, seq)
        self._numbers.append(taken)

        def give_back() -> None:
            self._numbers.remove(taken)
            pool.give_back(scope, seq)

        self.on_undo(give_back)
        return case_numbers.render(pattern, when, seq)

    def _counted_number(self, pattern: str, when: datetime) -> str:
        """SQLite, buffered: the counter is read once per scope and transaction, counted on here, and written
        back at `flush()`. Safe because this transaction is the only writer until it commits."""
        scope = case_numbers.scope_of(pattern, when)
        if scope not in self._counters:
            with self._own_statements():
                self._counters[scope] = case_numbers.read_counter(self.session, scope)
        self._counters[scope] += 1
        self._counters_dirty.add(scope)
        return case_numbers.render(pattern, when, self._counters[scope])

    def give_back_numbers(self) -> None:
        """The transaction failed: the numbers it took are used by the next cases instead."""
        numbers, self._numbers = self._numbers, []
        for pool, scope, seq in numbers:
            pool.give_back(scope, seq)

    def update_case(self, case_id: int, **values: Any) -> None:
        """UPDATE a few columns of a case (now, or at the next `flush()`); a copy of the case in the session
        sees the new values at once, without the ORM taking them for changes of its own."""
        held = self.session.identity_map.get(self.session.identity_key(Case, case_id))  # type: ignore[arg-type]
        if held is not None:
            for name, value in values.items():
                set_committed_value(held, name, value)
        waiting = self._waiting_cases.get(case_id)
        if waiting is not None:  # not inserted yet: it goes in with these values
            waiting.update(values)
            return
        if not self.buffered:
            self.session.execute(update(Case).where(Case.id == case_id).values(**values))  # type: ignore[arg-type]
            return
        self._keep_order()
        self._updates[(Case, tuple(sorted(values)))].append(
            {"_id": case_id, **{f"v_{name}": value for name, value in values.items()}})

    def flush(self) -> None:
        """Write what `insert_later` and `update_case` collected: one executemany per table and shape. On the
        connection, not the session: a session would first flush ORM changes made after these rows."""
        inserts, updates = self._inserts, self._updates
        self._inserts, self._updates = defaultdict(list), defaultdict(list)
        self._waiting_cases.clear()
        with self._own_statements() as connection:
            # tables in the order their foreign keys need (cases before the messages that point at them)
            for (model, names), rows in sorted(inserts.items(), key=lambda kv: _TABLE_ORDER[kv[0][0].__table__]):  # type: ignore[attr-defined]
                plan = _insert_plan(connection.dialect, model.__table__, names)  # type: ignore[attr-defined]
                if plan is None:
                    connection.execute(insert(model.__table__), rows)  # type: ignore[attr-defined]
                else:
                    connection.exec_driver_sql(plan.sql, [plan.parameters(row) for row in rows])
            for (model, names), rows in updates.items():
                table = model.__table__  # type: ignore[attr-defined]
                statement = (update(table).where(table.c.id == bindparam("_id"))
                             .values({name: bindparam(f"v_{name}") for name in names}))
                connection.execute(statement, rows)
            if self._counters_dirty:
                connection.execute(text(case_numbers.SET_LAST),
                                   [{"s": scope, "last": self._counters[scope]} for scope in sorted(self._counters_dirty)])
                self._counters_dirty.clear()

    @contextmanager
    def _own_statements(self) -> Iterator[Connection]:
        """The register's own statements, which `_before_execute` lets through."""
        self._writing = True
        try:
            yield self.session.connection()
        finally:
            self._writing = False

    def _keep_order(self) -> None:
        """Rows are written in the order they were made: ORM changes still pending (a casework event added
        with `session.add`) go first, with the rows buffered before them (`_before_orm_flush`)."""
        session = self.session
        if not session._is_clean():  # new, deleted or changed objects; `session.dirty` builds sets to say so
            session.flush()

    def _before_orm_flush(self, session: Session, *_: Any) -> None:
        if self._inserts or self._updates:
            self.flush()

    def _before_execute(self, connection: Connection, statement: Any, *_: Any) -> None:
        """An INSERT from elsewhere (a casework action queueing mail on the session) into a table whose ids
        are handed out here: what waits goes in first, and SQLite's next free id is read again after it."""
        if self._writing or not isinstance(statement, Insert):
            return
        model = _PRESET_TABLES.get(statement.table)
        if model is None:
            return
        if self._inserts or self._updates or self._counters_dirty:
            self.flush()
        self._next_ids.pop(model, None)

    def log_event(self, case_id: int, kind: str, at: datetime, *, actor: str = "ingestd",
                  **detail: Any) -> None:
        self.insert_later(CaseEvent, {"case_id": case_id, "at": at, "kind": kind, "actor": actor,
                                      "detail": detail})

    def touch_case(self, case_id: int, at: datetime) -> None:
        self.update_case(case_id, updated_at=at)

    def park(self, *, sha256: str, size: int, source: str, source_ref: str, stage: str, kind: str,
             reason: str, traceback: str | None, at: datetime) -> QuarantineEntry:
        """Add to quarantine, or count one more attempt on an entry for the same bytes."""
        entry = self.session.exec(select(QuarantineEntry).where(QuarantineEntry.raw_sha256 == sha256)).first()
        if entry is None:
            entry = QuarantineEntry(raw_sha256=sha256, size=size, source=source, source_ref=source_ref,
                                    stage=stage, kind=kind, reason=reason, traceback=traceback,
                                    first_at=at, last_at=at)
        else:
            entry.attempts += 1
            entry.stage, entry.kind, entry.reason, entry.traceback = stage, kind, reason, traceback
            entry.last_at, entry.status = at, "parked"
        self.session.add(entry)
        self.session.flush()
        return entry

    def release(self, sha256: str, case_no: str, at: datetime) -> None:
        """A quarantined input has become (part of) a case: the entry stays, as history, released."""
        entry = self.session.exec(select(QuarantineEntry).where(QuarantineEntry.raw_sha256 == sha256)).first()
        found = self.case_by_number(case_no)
        if entry is not None:
            entry.status, entry.last_at = "released", at
            entry.case_id = found[0] if found else None
            self.session.add(entry)


@dataclass(frozen=True, slots=True)
class _InsertPlan:
    """An INSERT of one table and set of columns, compiled once, with each column's bind processor."""

    sql: str
    names: tuple[str, ...]  # the parameters, in the order a positional driver takes them
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool

    def parameters(self, row: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = [row[name] if process is None else process(row[name])
                  for name, process in zip(self.names, self.processors, strict=True)]
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))


_PLANS: dict[tuple[type[Dialect], str, Table, tuple[str, ...]], _InsertPlan | None] = {}


def _insert_plan(dialect: Dialect, table: Table, names: tuple[str, ...]) -> _InsertPlan | None:
    """The batch's rows go to the driver's executemany with the values SQLAlchemy would bind (the columns'
    own bind processors: UTC datetimes, JSON), without its per-row statement machinery, which cost more
    than the writes themselves (bench/imap_bench). None: a statement this shortcut does not cover, which
    then goes through SQLAlchemy."""
    key = (type(dialect), dialect.paramstyle, table, names)  # the driver's own dialect: its casts and processors
    if key not in _PLANS:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(names))
        order = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.binds)
        plan = None
        if set(order) == set(names) and len(order) == len(names) and not compiled.escaped_bind_names:
            processors = tuple(_processor(compiled.binds[name].type, dialect) for name in order)
            plan = _InsertPlan(compiled.string, order, processors, compiled.positional)
        _PLANS[key] = plan
    return _PLANS[key]


def _processor(column_type: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column's bind processor. On SQLite, for a UTC datetime one that gives the same text in one step
    (SQLAlchemy's goes through the type decorator and then the dialect's formatting: a case row has a dozen),
    and for JSON one that knows the text of null, [] and {} without encoding them."""
    sqlite = dialect.name == "sqlite"
    if isinstance(column_type, UTCDateTime) and sqlite:
        return _sqlite_utc_text
    impl = column_type.dialect_impl(dialect)
    process = impl.bind_processor(dialect)
    if sqlite and process is not None and isinstance(impl, JSON):
        return _json_with_empty_values(process)
    return process  # type: ignore[no-any-return]


def _sqlite_utc_text(value: datetime | None) -> str | None:
    """What `UTCDateTime` then SQLite's DATETIME bind: naive UTC as `YYYY-MM-DD HH:MM:SS.ffffff`."""
    return None if value is None else _utc_text(value)


@lru_cache(maxsize=4096)
def _utc_text(value: datetime) -> str:
    """Cached by the moment: most datetimes of a batch are its `now` (received, created, updated, each event)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


def _json_with_empty_values(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The JSON column's own processor, but None, [] and {} (most flags, hits and Cc lists) are written as the
    text it would give them without encoding them each time."""
    def bind(value: Any) -> Any:
        if value is None:
            return "null"  # a JSON null, as SQLAlchemy's JSON type binds None (none_as_null is off)
        if not value and type(value) in _EMPTY_JSON:
            return _EMPTY_JSON[type(value)]
        return process(value)
    return bind


_EMPTY_JSON = {list: "[]", dict: "{}"}


@cache
def _column_defaults(model: type[SQLModel]) -> dict[str, Any]:
    """What the model would fill in itself: its field defaults, keyed by column name (ids left out)."""
    blank = model()
    return {c.name: getattr(blank, c.name) for c in model.__table__.columns  # type: ignore[attr-defined]
            if not c.primary_key and getattr(blank, c.name, None) is not None}


@cache
def _blank_row(model: type[SQLModel]) -> dict[str, Any]:
    """Every column of a new row as an INSERT of `_column_defaults` would leave it (None where no default)."""
    return {**{c.name: None for c in model.__table__.columns if not c.primary_key},  # type: ignore[attr-defined]
            **_column_defaults(model)}
