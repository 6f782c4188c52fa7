"""The outbox sender: retries, permanent failures, claims on SQLite and PostgreSQL, `.eml` files."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from datetime import timedelta
from email import message_from_bytes, policy
from email.utils import make_msgid
from pathlib import Path

import pytest

from ingestd.app import App
from ingestd.clock import FakeClock
from outbound.smtp import OutboxSender
from tests.conftest import need
from tests.mail import complaint
from tests.outbound.conftest import events, outbox, take
from tests.servers.smtp import SmtpServer, self_signed_cert
from tests.test_cli import ingestd


def _complaints(n: int) -> list[bytes]:
    return [complaint(sender=f"Person {i} <person{i}@example.com>", subject=f"投诉 {i}",
                      message_id=make_msgid(domain="example.com")) for i in range(n)]


def test_smtp_down_for_a_while_then_up_delivers_everything_exactly_once(
        make_outbound_app: Callable[..., App], sqlite_url: str, smtp: SmtpServer, clock: FakeClock) -> None:
    """Given the SMTP server down, when cases are opened and the outbox drained, then nothing is lost: every
    message waits with a backoff; when the server is back (same port) and the backoff has passed, then
    every message is delivered, once; further drains send nothing."""
    app = make_outbound_app(sqlite_url, smtp)
    smtp.stop()
    for data in _complaints(4):
        take(app, data)
    queued = outbox(app)
    assert len(queued) == 8  # an acknowledgement and a department notification per case
    counts = app.outbound.drain()
    assert counts == {"retry": 8}
    rows = outbox(app)
    assert {r.status for r in rows} == {"queued"} and {r.attempts for r in rows} == {1}
    assert all("cannot reach SMTP server" in (r.last_error or "") for r in rows)
    clock.advance(timedelta(seconds=30))
    assert app.outbound.drain() == {}  # not due yet: first retry after 60 s
    clock.advance(timedelta(seconds=31))
    assert app.outbound.drain() == {"retry": 8}  # still down: second attempt, backoff doubles
    assert {r.next_attempt_at - clock.now() for r in outbox(app)} == {timedelta(seconds=120)}
    smtp.start()
    clock.advance(timedelta(seconds=121))
    assert app.outbound.drain() == {"sent": 8}
    assert app.outbound.drain() == {}
    clock.advance(timedelta(days=1))
    assert app.outbound.drain() == {}
    assert len(smtp.messages) == 8
    assert len({m.message["Message-ID"] for m in smtp.messages}) == 8
    assert {r.status for r in outbox(app)} == {"sent"}


def test_temporary_refusal_is_retried_and_then_delivered(make_outbound_app: Callable[..., App], sqlite_url: str,
                                                         smtp: SmtpServer, clock: FakeClock) -> None:
    """Given a server answering 451 to the first attempt, when drained, then the message waits and is
    delivered on the next attempt."""
    app = make_outbound_app(sqlite_url, smtp, notify_departments=False)
    smtp.answer("rcpt", "451 4.3.0 greylisted, try again later", times=1)
    outcome = take(app, complaint())
    assert app.outbound.drain() == {"retry": 1}
    (row,) = outbox(app)
    assert row.status == "queued" and "451" in (row.last_error or "")
    clock.advance(timedelta(minutes=2))
    assert app.outbound.drain() == {"sent": 1}
    assert len(smtp.to("zhang.wei@example.com")) == 1
    assert len(events(app, outcome.case_no, "outbound.sent")) == 1


def test_permanent_failure_is_recorded_on_the_case_and_listed(
        make_outbound_app: Callable[..., App], smtp: SmtpServer, tmp_path: Path) -> None:
    """Given a server answering 550 for the complainant's address, when drained, then the acknowledgement
    is failed at once (no retry), the case records `outbound.failed` with the server's answer, and
    `ingestd outbox list` shows it with the reason."""
    db = f"sqlite:///{tmp_path}/var/ingestd.db"
    app = make_outbound_app(db, smtp, data_dir=tmp_path / "var")
    smtp.answer("rcpt", "550 5.1.1 <zhang.wei@example.com>: user unknown", for_rcpt="zhang.wei")
    outcome = take(app, complaint())
    assert app.outbound.drain() == {"failed": 1, "sent": 1}  # the department notification still goes
    (row,) = outbox(app, kind="ack")
    assert row.status == "failed" and row.attempts == 1 and "550" in (row.last_error or "")
    (failed,) = events(app, outcome.case_no, "outbound.failed")
    assert "user unknown" in failed.detail["error"] and failed.detail["kind"] == "ack"
    config = tmp_path / "ingestd.toml"
    config.write_text(f'[store]\ndatabase_url = "{db}"\ndata_dir = "{tmp_path / "var"}"\n', encoding="utf-8")
    listed = ingestd(tmp_path, "--config", str(config), "outbox", "list")
    assert listed.returncode == 0, listed.stderr
    assert "failed" in listed.stdout and "user unknown" in listed.stdout and outcome.case_no in listed.stdout
    assert "notify" not in listed.stdout  # sent messages only with --all
    every = ingestd(tmp_path, "--config", str(config), "outbox", "list", "--all")
    assert "notify" in every.stdout


def test_giving_up_after_max_attempts(make_outbound_app: Callable[..., App], sqlite_url: str, smtp: SmtpServer,
                                      clock: FakeClock) -> None:
    """Given a server that keeps answering 421, when the message has been tried max_attempts times, then it
    is failed and recorded on the case."""
    app = make_outbound_app(sqlite_url, smtp, notify_departments=False, max_attempts=3)
    smtp.answer("data", "421 4.7.0 try again later")
    outcome = take(app, complaint())
    for _ in range(3):
        app.outbound.drain()
        clock.advance(timedelta(hours=1))
    (row,) = outbox(app)
    assert row.status == "failed" and row.attempts == 3
    (failed,) = events(app, outcome.case_no, "outbound.failed")
    assert "gave up after 3 attempts" in failed.detail["error"]


def test_without_smtp_mail_is_written_as_eml_files(make_outbound_app: Callable[..., App], sqlite_url: str,
                                                   tmp_path: Path) -> None:
    """Given no SMTP server configured, when drained, then each message is an .eml file under var/outbox;
    draining again writes nothing new."""
    app = make_outbound_app(sqlite_url, None)
    outcome = take(app, complaint())
    assert app.outbound.drain() == {"sent": 2}
    files = sorted((tmp_path / "var" / "outbox").glob("*.eml"))
    assert len(files) == 2 and all(outcome.case_no in f.name for f in files)
    ack = next(f for f in files if "-ack-" in f.name)
    msg = message_from_bytes(ack.read_bytes(), policy=policy.default)
    assert msg["To"].addresses[0].addr_spec == "zhang.wei@example.com"
    assert app.outbound.drain() == {}
    assert len(list((tmp_path / "var" / "outbox").glob("*"))) == 2


def test_claims_do_not_overlap(make_outbound_app: Callable[..., App], db_url: str, tmp_path: Path) -> None:
    """Given 30 queued messages and three senders claiming at once (SQLite: one UPDATE; PostgreSQL: FOR
    UPDATE SKIP LOCKED), then no message is claimed twice and all are claimed; a claim left by a dead sender
    is taken again once it is stale."""
    app = make_outbound_app(db_url, None, notify_departments=False)
    for data in _complaints(30):
        take(app, data)
    assert len(outbox(app)) == 30
    claimed: list[list[int]] = []
    tokens: dict[int, str] = {}
    lock = threading.Lock()
    start = threading.Barrier(3)

    def worker() -> None:
        sender = OutboxSender(app.db, app.blobs, app.settings.outbound, tmp_path, clock=app.clock)
        start.wait()
        while True:
            token, rows = sender.claim(4)
            if not rows:
                return
            with lock:
                claimed.append([r.id for r in rows])
                tokens.update({r.id: token for r in rows})

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    ids = [i for batch in claimed for i in batch]
    assert sorted(ids) == sorted({r.id for r in outbox(app)}) and len(ids) == 30
    assert {r.status for r in outbox(app)} == {"sending"}
    sender = OutboxSender(app.db, app.blobs, app.settings.outbound, tmp_path, clock=app.clock)
    assert sender.claim(100)[1] == []  # claimed by live senders
    app.clock.advance(timedelta(seconds=app.settings.outbound.claim_timeout_seconds + 1))  # type: ignore[attr-defined]
    token, rows = sender.claim(100)
    assert len(rows) == 30 and {r.claimed_by for r in rows} == {token}  # their senders died: taken over
    first = rows[0]
    with app.db.write() as session:  # the old sender finishing late does not overwrite the new claim
        assert not OutboxSender._finish(session, tokens[first.id], first, status="sent")
        assert OutboxSender._finish(session, token, first, status="sent")


def test_a_sender_killed_between_the_servers_250_and_its_commit_does_not_send_again(
        make_outbound_app: Callable[..., App], sqlite_url: str, smtp: SmtpServer, clock: FakeClock,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a sender that dies (a BaseException, as a kill leaves it) right after the server accepted a
    message and before the register marks it sent, when a new sender takes the stale claim over, then the
    message is marked sent from the sent journal, not delivered again; the others go out once each."""
    app = make_outbound_app(sqlite_url, smtp, notify_departments=False)
    for data in _complaints(3):
        take(app, data)
    data_dir = tmp_path / "shared-var"

    def killed(*_: object, **__: object) -> None:
        raise KeyboardInterrupt("killed after 250")

    dying = OutboxSender(app.db, app.blobs, app.settings.outbound, data_dir, clock=app.clock)
    monkeypatch.setattr(dying, "_sent", killed)
    with pytest.raises(KeyboardInterrupt):
        dying.drain()
    assert len(smtp.messages) == 1
    assert {r.status for r in outbox(app)} == {"sending"}  # claimed, nothing recorded

    clock.advance(timedelta(seconds=app.settings.outbound.claim_timeout_seconds + 1))
    restarted = OutboxSender(app.db, app.blobs, app.settings.outbound, data_dir, clock=app.clock)
    assert restarted.drain() == {"sent": 3}
    assert len(smtp.messages) == 3
    assert len({m.message["Message-ID"] for m in smtp.messages}) == 3
    assert {r.status for r in outbox(app)} == {"sent"}
    first = min(outbox(app), key=lambda r: r.id)
    assert first.transport_ref is not None and first.transport_ref.startswith("smtp ")


def test_the_sent_journal_is_compacted_to_what_the_register_has_not_marked(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a journal past its size limit, when compacted, then only the keys the register has not marked
    sent stay, a line torn by a crash is dropped, and a writer that waited on the lock appends to the new file."""
    from datetime import UTC, datetime

    import outbound.journal as journal_module
    from outbound.journal import SentJournal

    monkeypatch.setattr(journal_module, "COMPACT_BYTES", 200)
    journal = SentJournal(tmp_path / "sent.journal")
    at = datetime(2026, 11, 23, tzinfo=UTC)
    for n in range(10):
        journal.record(f"ack:TS-{n} t", f"smtp ref {n}", at)
    with journal.path.open("ab") as fh:
        fh.write(b'{"key": "torn')
    kept = journal.compact(lambda keys: [k for k in keys if k.endswith(("3 t", "7 t"))])
    assert kept == 2
    reader = SentJournal(journal.path)
    assert reader.accepted("ack:TS-3 t") == "smtp ref 3" and reader.accepted("ack:TS-7 t") == "smtp ref 7"
    assert reader.accepted("ack:TS-4 t") is None
    journal.record("ack:TS-99 t", "smtp ref 99", at)
    assert reader.accepted("ack:TS-99 t") == "smtp ref 99"
    with journal.path.open("ab") as fh:  # torn again: the next record must not be glued onto it
        fh.write(b'{"key": "ack:TS-100 t", "re')
    journal.record("ack:TS-101 t", "smtp ref 101", at)
    assert SentJournal(journal.path).accepted("ack:TS-101 t") == "smtp ref 101"
    assert reader.accepted("ack:TS-101 t") == "smtp ref 101"


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_tls_and_login(make_outbound_app: Callable[..., App], sqlite_url: str, tls: str,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Given an SMTP server that requires STARTTLS (or implicit TLS) and a login, when drained with the
    server's CA and the password from the environment, then the mail is delivered over TLS after login; a
    wrong password keeps the mail queued with the reason."""
    need(shutil.which("openssl") is not None, "openssl not installed")
    server = SmtpServer(tls=tls)
    server.start()
    try:
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong")
        smtp = {"host": server.host, "port": server.port, "tls": tls, "username": server.username,
                "password": {"env": "TEST_SMTP_PASSWORD"}, "ca_file": self_signed_cert()[0], "timeout_seconds": 5}
        app = make_outbound_app(sqlite_url, None, smtp=smtp, notify_departments=False)
        take(app, complaint())
        assert app.outbound.drain() == {"retry": 1}  # aiosmtpd answers a bad login slowly, or hangs up
        (row,) = outbox(app)
        assert row.status == "queued" and "SMTP" in (row.last_error or "") and server.logins == []
        monkeypatch.setenv("TEST_SMTP_PASSWORD", server.password)
        app.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
        assert app.outbound.drain() == {"sent": 1}
        assert server.logins == ["ingestd"] and len(server.to("zhang.wei@example.com")) == 1
    finally:
        server.stop()
