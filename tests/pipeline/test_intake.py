"""The intake pipeline end to end against a real register (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import func, select

from ingestd.app import App
from ingestd.pipeline.items import RawInput
from ingestd.pipeline.respond import ResponseContext
from ingestd.store.models import Case, CaseEvent, Message, QuarantineEntry
from tests.mail import complaint


def raw(data: bytes, ref: str = "") -> RawInput:
    return RawInput(data=data, source="test", source_ref=ref)


def count(app: App, model: type) -> int:
    with app.db.read() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def count_in(app: App) -> int:
    """Messages received (the outbound stage records each acknowledgement as a message "out" on the case)."""
    with app.db.read() as session:
        return int(session.exec(select(func.count()).select_from(Message).where(Message.direction == "in")).one())


def get_case(app: App, case_no: str) -> Case:
    with app.db.read() as session:
        return session.exec(select(Case).where(Case.case_no == case_no)).one()


def test_a_complaint_becomes_a_case_with_its_register_entry(app: App) -> None:
    """Given a Chinese complaint with contact details, when taken, then one case holds name, contact,
    content, demands, date and channel, with its message and an opening event."""
    outcome = app.intake.take(raw(complaint()))
    assert outcome.status == "created"
    case = get_case(app, outcome.case_no)
    assert case.case_no.startswith("TS-") and case.channel == "email" and case.status == "open"
    assert case.complainant_name == "张伟"
    assert case.complainant_email == "zhang.wei@example.com"
    assert case.complainant_phone == "+8613800138000"
    assert "延误" in case.description
    assert "赔偿" in case.demands
    assert case.department == "triage"
    assert case.received_at is not None and case.received_at.tzinfo is not None
    with app.db.read() as session:
        kinds = [e.kind for e in session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id))]
    assert kinds[:3] == ["case.opened", "case.classified", "ack.queued"]  # respond: the acknowledgement is queued
    with app.db.read() as session:
        directions = sorted(m.direction for m in session.exec(select(Message).where(Message.case_id == case.id)))
    assert directions == ["in", "out"]  # the complaint, and the acknowledgement recorded on the case


def test_the_same_input_twice_yields_one_case(app: App) -> None:
    """Given one message taken twice, when the second arrives, then it is a duplicate of the same case."""
    data = complaint(message_id="<dup-1@example.com>")
    first = app.intake.take(raw(data))
    second = app.intake.take(raw(data))
    assert (first.status, second.status) == ("created", "duplicate")
    assert second.case_no == first.case_no
    assert count(app, Case) == 1 and count_in(app) == 1


def test_same_message_id_with_different_content_is_kept_on_the_same_case(app: App) -> None:
    """Given two different messages sharing a Message-ID, when both are taken, then both are kept, on one case."""
    first = app.intake.take(raw(complaint(message_id="<same@example.com>", body="第一版内容")))
    second = app.intake.take(raw(complaint(message_id="<same@example.com>", body="第二版内容，不同")))
    assert first.status == "created" and second.status == "threaded"
    assert second.case_no == first.case_no
    assert count_in(app) == 2 and count(app, Case) == 1


@pytest.mark.parametrize("how", ["in-reply-to", "references", "subject"])
def test_a_reply_joins_its_case(app: App, how: str) -> None:
    """Given a case, when a reply names it by In-Reply-To, by References or by case number in the
    subject, then the reply joins that case instead of opening a new one."""
    opened = app.intake.take(raw(complaint(message_id="<orig@example.com>")))
    kwargs: dict[str, object] = {"subject": "Re: 投诉：快递延误", "body": "补充：快递单号 SF1234567890"}
    if how == "in-reply-to":
        kwargs["in_reply_to"] = "<orig@example.com>"
    elif how == "references":
        kwargs["references"] = ["<unknown@example.com>", "<orig@example.com>"]
    else:
        kwargs["subject"] = f"补充材料 [{opened.case_no}]"
    reply = app.intake.take(raw(complaint(**kwargs)))  # type: ignore[arg-type]
    assert reply.status == "threaded" and reply.case_no == opened.case_no
    assert count(app, Case) == 1
    with app.db.read() as session:
        added = session.exec(select(CaseEvent).where(CaseEvent.kind == "message.added")).one()
    assert added.detail["how"] == how


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "empty"), (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "not an email")],
)
def test_unreadable_input_is_quarantined_with_its_bytes(app: App, data: bytes, reason: str) -> None:
    """Given an empty file or a PDF, when taken, then it is parked with the reason and its raw bytes."""
    outcome = app.intake.take(raw(data, "x.eml"))
    assert outcome.status == "quarantined" and reason in (outcome.reason or "")
    with app.db.read() as session:
        entry = session.exec(select(QuarantineEntry)).one()
    assert entry.kind == "unreadable" and entry.source_ref == "x.eml"
    assert app.blobs.read(entry.raw_sha256) == data
    assert app.intake.take(raw(data)).status == "duplicate"  # taken again: nothing new
    assert count(app, QuarantineEntry) == 1 and count(app, Case) == 0


def test_a_message_without_from_is_an_anonymous_case(app: App) -> None:
    """Given a complaint with no From header and no contact in the text, when taken, then it is an
    anonymous case (anonymous complaints are still handled)."""
    outcome = app.intake.take(raw(complaint(sender="", body="匿名投诉：门店员工态度恶劣。")))
    case = get_case(app, outcome.case_no)
    assert case.anonymous and "anonymous" in (case.flags or [])


class ExplodingResponder:
    name = "exploding"

    def respond(self, ctx: ResponseContext) -> None:
        raise RuntimeError("outbox unavailable")


def test_a_failing_stage_leaves_nothing_half_committed(app: App) -> None:
    """Given a responder that raises after the case rows were written, when an input is taken, then no
    case, message or event of it remains, and it is parked as failed with stage and traceback; once
    the fault is gone, `retry` turns it into a case and releases the entry."""
    app.intake.responders = [ExplodingResponder()]
    outcome = app.intake.take(raw(complaint()))
    assert outcome.status == "quarantined" and outcome.stage == "respond"
    assert count(app, Case) == 0 and count(app, Message) == 0 and count(app, CaseEvent) == 0
    with app.db.read() as session:
        entry = session.exec(select(QuarantineEntry)).one()
    assert entry.kind == "failed" and "RuntimeError: outbox unavailable" in (entry.traceback or "")

    app.intake.responders = []
    again = app.intake.take(RawInput(app.blobs.read(entry.raw_sha256), "test"), retry=True)
    assert again.status == "created"
    with app.db.read() as session:
        entry = session.exec(select(QuarantineEntry)).one()
    assert entry.status == "released" and entry.case_id is not None


def test_one_bad_input_does_not_spoil_its_batch(app: App) -> None:
    """Given a batch with good inputs around a bad one, when taken together, then the good ones are
    cases and the bad one is parked."""
    batch = [raw(complaint(subject=f"投诉 {i}"), str(i)) for i in range(5)]
    batch.insert(2, raw(b"\x00\x01not mail", "bad"))
    outcomes = [o for _, o in app.intake.take_many(batch, workers=1)]
    assert [o.status for o in outcomes] == ["created"] * 2 + ["quarantined"] + ["created"] * 3
    assert count(app, Case) == 5


def test_case_numbers_count_up_and_never_repeat(make_app: Callable[..., App], db_url: str) -> None:
    """Given two app instances (two workers) on one register, when both take inputs, then case numbers
    are consecutive and distinct."""
    a, b = make_app(db_url), make_app(db_url)
    numbers = [(a if i % 2 else b).intake.take(raw(complaint(subject=f"c{i}"))).case_no for i in range(6)]
    assert len(set(numbers)) == 6
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == [1, 2, 3, 4, 5, 6]


def test_a_second_case_from_the_same_complainant_is_seen_as_repeat(make_app: Callable[..., App], db_url: str,
                                                                    tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Given a rule for repeat complainants, when the same complainant (same phone, other address) opens a
    second case, then the second one is flagged by that rule and the first is not."""
    rules = tmp_path / "routing.toml"
    rules.write_text('grades = ["high", "low"]\n[[rules]]\nname = "again"\nrepeat = true\nflags = ["repeat"]\n'
                     'grade = "high"\n')
    app = make_app(db_url, routing={"file": str(rules)})
    first = app.intake.take(raw(complaint(subject="第一次投诉", body="快递延误。电话：13800138000")))
    second = app.intake.take(raw(complaint(subject="又是延误", body="还是没到。电话：13800138000",
                                           sender="另一个 <other@example.com>")))
    assert "repeat" not in (get_case(app, first.case_no).flags or [])
    case = get_case(app, second.case_no)
    assert "repeat" in (case.flags or []) and case.grade == "high"


def test_the_same_bytes_twice_then_an_unreadable_input_in_one_batch(app: App) -> None:
    """Given one batch holding the same message twice and then an input that is not mail (parking it writes
    the batch's rows so far, where the second copy's unique key is refused), when taken, then the outcome is
    one case, one duplicate, one parked input: not an error for the whole batch, retried for ever."""
    data = complaint(message_id="<twice@example.com>")
    batch = [raw(data, "1"), raw(data, "2"), raw(b"just some words\nwithout headers", "3")]
    outcomes = [o for _, o in app.intake.take_many(batch, workers=1)]
    assert [o.status for o in outcomes] == ["created", "duplicate", "quarantined"]
    assert count(app, Case) == 1


class LateBadChangeResponder:
    """Changes its case through the ORM into a row the database refuses (no subject at all), for one input
    only: the change is written when the session next flushes, after the responder has returned."""

    name = "late-bad-change"

    def respond(self, ctx: ResponseContext) -> None:
        if ctx.parsed.email.subject == "投诉 2":
            case = ctx.register.session.get(Case, ctx.recorded.case_id)
            case.subject = None  # type: ignore[assignment]  # NOT NULL


def test_a_change_the_database_refuses_only_at_commit_parks_its_input_not_the_batch(app: App) -> None:
    """Given a responder whose ORM change to the last case of a batch is refused only when the batch is written
    at its end, when the batch of three is taken, then that input is parked with the database's reason and the
    other two are cases: the batch is not failed (and retried for ever) as if the database were down."""
    app.intake.responders = [*app.intake.responders, LateBadChangeResponder()]
    batch = [raw(complaint(subject=f"投诉 {i}"), str(i)) for i in range(3)]
    outcomes = [o for _, o in app.intake.take_many(batch, workers=1)]
    assert [o.status for o in outcomes] == ["created", "created", "quarantined"]
    with app.db.read() as session:
        entry = session.exec(select(QuarantineEntry)).one()
    assert entry.reason == "integrity error" and "subject" in (entry.traceback or "")
    assert count(app, Case) == 2


class DatabaseGoneResponder:
    name = "database-gone"

    def respond(self, ctx: ResponseContext) -> None:
        from sqlalchemy.exc import OperationalError

        raise OperationalError("INSERT ...", {}, Exception("server closed the connection unexpectedly"))


def test_a_database_outage_is_not_blamed_on_the_input(app: App) -> None:
    """Given a database error in the middle of recording, when an input is taken, then the error reaches
    the source (which keeps the input for later) and nothing is parked in quarantine."""
    from sqlalchemy.exc import OperationalError

    app.intake.responders = [DatabaseGoneResponder()]
    with pytest.raises(OperationalError):
        app.intake.take(raw(complaint()))
    app.intake.responders = []
    assert count(app, QuarantineEntry) == 0 and count(app, Case) == 0
    assert app.intake.take(raw(complaint())).status == "created"


class QuarantineTheFirst:
    """Parks the input with the given subject in the respond stage, after its case rows (and, as the first case
    of the month, its case-number counter row) were written: as a bounce for an unknown message is parked."""

    name = "quarantine-the-first"

    def __init__(self, subject: str) -> None:
        self.subject = subject

    def respond(self, ctx: ResponseContext) -> None:
        from ingestd.pipeline.items import Quarantine

        if ctx.parsed.email.subject == self.subject:
            raise Quarantine("unreadable", "parked after it was recorded")


def test_an_input_parked_after_it_opened_the_months_counter_does_not_spoil_its_batch(app: App) -> None:
    """Given a fresh register and a batch whose first input is parked in the respond stage (its rolled-back
    savepoint takes the month's new counter row with it), when the batch is taken, then the inputs after it
    still become cases, numbered from 1."""
    app.intake.responders = [QuarantineTheFirst("投诉 parked")]
    batch = [raw(complaint(subject="投诉 parked"), "p")] + [raw(complaint(subject=f"投诉 {i}"), str(i)) for i in range(3)]
    outcomes = [o for _, o in app.intake.take_many(batch, workers=1)]
    assert [o.status for o in outcomes] == ["quarantined", "created", "created", "created"], [o.reason for o in outcomes]
    assert [o.case_no[-5:] for o in outcomes[1:]] == ["00001", "00002", "00003"]


class OrmEventThenBufferedEvent:
    """Adds an event the ORM way (as casework does) and then one through the register's buffer."""

    name = "two-events"

    def respond(self, ctx: ResponseContext) -> None:
        ctx.register.session.add(CaseEvent(case_id=ctx.recorded.case_id, at=ctx.now, kind="test.orm", actor="t"))
        ctx.register.log_event(ctx.recorded.case_id, "test.buffered", ctx.now)


def test_case_events_keep_the_order_they_were_made_in(app: App) -> None:
    """Given a responder that adds one event with the ORM and then one through the register's write buffer,
    when a batch is taken, then each case's events, by id, are in the order they were made."""
    app.intake.responders = [OrmEventThenBufferedEvent()]
    batch = [raw(complaint(subject=f"投诉 {i}"), str(i)) for i in range(3)]
    assert {o.status for _, o in app.intake.take_many(batch, workers=1)} == {"created"}
    with app.db.read() as session:
        events = session.exec(select(CaseEvent).order_by(CaseEvent.id)).all()
    by_case: dict[int, list[str]] = {}
    for event in events:
        by_case.setdefault(event.case_id, []).append(event.kind)
    assert list(by_case.values()) == [["case.opened", "case.classified", "test.orm", "test.buffered"]] * 3


def test_a_retried_input_is_still_recognised_as_a_repeat_complaint(app: App) -> None:
    """Given a complainant's case, and the same complaint again that failed once and is retried from quarantine
    (so its batch holds it as already seen, not parsed), when retried, then it is linked as a repeat."""
    first = app.intake.take(raw(complaint(), "first"))
    again = complaint(subject="投诉：快递延误 第二次", message_id="<again@example.com>")
    app.intake.responders = [ExplodingResponder()]
    assert app.intake.take(raw(again, "again")).status == "quarantined"
    app.intake.responders = []
    retried = app.intake.take(raw(again, "again"), retry=True)
    assert retried.status == "created"
    case = get_case(app, retried.case_no)
    assert case.repeat_of == get_case(app, first.case_no).id and "repeat" in case.flags


def test_parse_workers_started_ahead_are_running_before_the_first_batch(make_app: Callable[..., App],
                                                                        sqlite_url: str) -> None:
    """Given an intake with parse workers, when they are started ahead (as the daemon does at start), then a
    worker process is running and warm before any input, the warm-up leaves nothing in the register, and the
    next batch goes through the same pool."""
    app = make_app(sqlite_url, intake={"parse_workers": 2})
    warm = app.intake.start_workers()
    assert len(warm) == 2 and all(w.result(timeout=120) is None for w in warm)
    pool = app.intake._pool
    assert pool is not None
    started = set(pool._processes)
    assert len(started) == 2 and all(p.is_alive() for p in pool._processes.values())  # every worker, not one
    assert count_in(app) == 0  # the warm-up message is not an input
    batch = [raw(complaint(message_id=f"<warm{i}@example.com>")) for i in range(4)]
    assert [o.status for _, o in app.intake.take_many(batch)] == ["created"] * 4
    assert app.intake._pool is pool and set(pool._processes) >= started


def _one_thread_pool(app: App, monkeypatch: pytest.MonkeyPatch) -> ThreadPoolExecutor:
    """A parse "pool" of one thread, sharing out batches the way the worker processes do, so that a test can hold
    its worker where it likes."""
    from multiprocessing import get_context

    from ingestd.pipeline import runner

    claims = runner.Claims(get_context("forkserver"))
    monkeypatch.setattr(runner, "_CLAIMS", [claims])  # a worker process gets it when it starts
    pool = ThreadPoolExecutor(max_workers=1)
    monkeypatch.setattr(app.intake, "_pool", pool)
    monkeypatch.setattr(app.intake, "_claims", claims)
    return pool


def test_inputs_no_parse_worker_has_begun_are_parsed_by_the_committing_process(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a pool whose only worker is busy (held on a gate), when a batch is taken, then the committing
    process parses the inputs no worker has begun instead of waiting behind it, and every input is a case
    while the worker is still held."""
    gate = threading.Event()
    pool = _one_thread_pool(app, monkeypatch)
    held = pool.submit(gate.wait, 30)
    safety = threading.Timer(20, gate.set)  # without the stealing, the batch waits for this
    safety.start()
    try:
        batch = [raw(complaint(subject=f"投诉 {i}", message_id=f"<busy-{i}@example.com>"), str(i)) for i in range(25)]
        outcomes = [o for _, o in app.intake.take_many(batch, workers=2)]
        finished_while_held = not gate.is_set()
    finally:
        gate.set()
        safety.cancel()
        held.result()
        pool.shutdown()
    assert finished_while_held
    assert [o.status for o in outcomes] == ["created"] * 25
    assert count(app, Case) == 25


def test_a_batch_a_worker_is_part_way_through_is_finished_from_its_back_by_the_committing_process(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a worker held on the first input of a batch, when the batch is needed, then the committing process
    parses the rest, from the back, instead of waiting; each input is parsed once, by one of them; and the held
    input joins its batch once the worker is let go."""
    from ingestd.pipeline import runner

    pool = _one_thread_pool(app, monkeypatch)
    gate, begun = threading.Event(), threading.Event()
    by_worker: list[str] = []
    here: list[str] = []
    parse_in_worker, receive_and_parse = runner.parse_in_worker, runner.receive_and_parse

    def held_worker(raw: RawInput, *args: object) -> object:
        by_worker.append(raw.source_ref)
        begun.set()
        gate.wait(30)
        return parse_in_worker(raw, *args)  # type: ignore[arg-type]

    def counted(raw: RawInput, *args: object) -> object:
        if threading.current_thread() is threading.main_thread():
            begun.wait(10)  # the worker takes the batch's first input before this process takes any
            here.append(raw.source_ref)
        return receive_and_parse(raw, *args)  # type: ignore[arg-type]

    def let_go_once_the_rest_is_parsed() -> None:
        deadline = time.monotonic() + 15  # without the sharing, this process waits for the worker: nothing parsed
        while len(here) < 24 and time.monotonic() < deadline:
            time.sleep(0.01)
        parsed_while_held.append(len(here))
        gate.set()

    monkeypatch.setattr(runner, "parse_in_worker", held_worker)
    monkeypatch.setattr(runner, "receive_and_parse", counted)
    parsed_while_held: list[int] = []
    watcher = threading.Thread(target=let_go_once_the_rest_is_parsed)
    watcher.start()
    try:
        batch = [raw(complaint(subject=f"投诉 {i}", message_id=f"<shared-{i}@example.com>"), str(i)) for i in range(25)]
        outcomes = [o for _, o in app.intake.take_many(batch, workers=2)]
    finally:
        gate.set()
        watcher.join()
        pool.shutdown()
    assert parsed_while_held == [24]
    assert by_worker == ["0"]
    assert here == [str(i) for i in range(24, 0, -1)]
    assert [o.status for o in outcomes] == ["created"] * 25
    assert count(app, Case) == 25


def test_small_inputs_keep_their_bytes_in_the_register_not_a_file_each(app: App) -> None:
    """Given a batch parsed by a worker process, when taken, then each input's raw bytes are in the register's
    `input_bytes`, exactly, in the transaction that recorded it, and the blob store holds no file for them."""
    import hashlib

    from ingestd.store.models import InputBytes

    batch = [raw(complaint(subject=f"投诉 {i}", message_id=f"<inline-{i}@example.com>"), str(i)) for i in range(12)]
    outcomes = [o for _, o in app.intake.take_many(batch, workers=2)]
    assert [o.status for o in outcomes] == ["created"] * 12
    with app.db.read() as session:
        kept = {row.sha256: bytes(row.data) for row in session.exec(select(InputBytes))}
    assert kept == {hashlib.sha256(r.data).hexdigest(): r.data for r in batch}
    assert not set(app.blobs.all_digests()) & set(kept)
