"""The IMAP mailbox source against a real Dovecot: what a pass takes, what it does on the server after the
commit, and that nothing is ever opened twice (crash before the move, UIDVALIDITY change)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import func, select

from ingestd.app import App
from ingestd.config.mailbox import Mailbox
from ingestd.daemon import run_once
from ingestd.sources.imap_conn import connect
from ingestd.store.models import Case, QuarantineEntry, SourceState
from tests.mail import complaint
from tests.servers.dovecot import DovecotServer, captured_logs, running_daemon, wait_until

JUNK = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR not a message at all"
ONE_WORKER = {"parse_workers": 1}


def cases(app: App) -> list[Case]:
    with app.db.read() as session:
        return list(session.exec(select(Case).order_by(Case.id)))


def case_count(app: App) -> int:
    with app.db.read() as session:
        return int(session.exec(select(func.count()).select_from(Case)).one())


def messages(n: int, tag: str) -> list[bytes]:
    return [complaint(subject=f"投诉 {tag} {i}", body=f"第 {i} 号投诉：订单 SF{1000000 + i} 延误。\n要求退款。\n")
            for i in range(n)]


def test_pass_takes_quarantines_and_moves_after_commit(dovecot: DovecotServer, make_app: Callable[..., App],
                                                       db_url: str) -> None:
    """Given 3 complaints and 1 unparseable message in INBOX (and no Processed folder), when one pass runs,
    then 3 cases and 1 quarantine entry are recorded with source `imap:desk/INBOX` and mailbox `desk`, all 4
    messages are moved to a newly created Processed (unflagged: read with BODY.PEEK[]), INBOX is empty, the
    folder's UIDVALIDITY/last UID are kept; and a second pass takes nothing."""
    user = dovecot.add_user()
    dovecot.append(user, "INBOX", [*messages(3, "a"), JUNK])
    app = make_app(db_url, intake=ONE_WORKER, mailboxes=[dovecot.mailbox_config(user)])

    counts = run_once(app)

    assert counts == {"created": 3, "quarantined": 1}
    assert dovecot.count(user, "INBOX") == 0
    assert dovecot.count(user, "Processed") == 4
    assert not any(rb"\Seen" in flags for flags in dovecot.flags(user, "Processed"))
    got = cases(app)
    assert {c.source for c in got} == {"imap:desk/INBOX"}
    assert {(c.fields or {}).get("mailbox") for c in got} == {"desk"}
    with app.db.read() as session:
        parked = session.exec(select(QuarantineEntry)).one()
        state = session.get(SourceState, "imap:desk/INBOX")
    assert parked.source == "imap:desk/INBOX" and parked.source_ref.endswith(":4")
    assert state is not None and state.state == {"uidvalidity": dovecot.uidvalidity(user, "INBOX"), "last_uid": 4}
    assert run_once(app) == {}


def test_seen_mode_flags_and_takes_unseen_or_newer(dovecot: DovecotServer, make_app: Callable[..., App],
                                                   sqlite_url: str) -> None:
    """Given after = "seen" and two complaints, when a pass runs, then both become cases and are flagged
    \\Seen in place; given then a new message that a person has already read (\\Seen) and nothing else,
    when a pass runs, then only that one is taken (its UID is above the last one), and a third pass takes
    nothing."""
    user = dovecot.add_user()
    dovecot.append(user, "INBOX", messages(2, "seen"))
    app = make_app(sqlite_url, intake=ONE_WORKER, mailboxes=[dovecot.mailbox_config(user, after="seen")])

    assert run_once(app) == {"created": 2}
    assert all(rb"\Seen" in f for f in dovecot.flags(user, "INBOX"))
    dovecot.append(user, "INBOX", messages(1, "read-by-a-person"), flags=(rb"\Seen",))
    assert run_once(app) == {"created": 1}
    assert run_once(app) == {}
    assert dovecot.count(user, "INBOX") == 3 and case_count(app) == 3


def test_delete_mode_removes_taken_messages(dovecot: DovecotServer, make_app: Callable[..., App],
                                            sqlite_url: str) -> None:
    """Given after = "delete", when a pass takes two complaints, then both are cases and the folder is
    empty (UID EXPUNGE), with no Processed folder made."""
    user = dovecot.add_user()
    dovecot.append(user, "INBOX", messages(2, "del"))
    app = make_app(sqlite_url, intake=ONE_WORKER, mailboxes=[dovecot.mailbox_config(user, after="delete")])
    assert run_once(app) == {"created": 2}
    assert dovecot.count(user, "INBOX") == 0 and dovecot.count(user, "Processed") == 0


class Crash(BaseException):
    """Stands in for the process dying: not an Exception, so nothing catches it on the way out."""


def test_crash_between_commit_and_move_leaves_one_case(dovecot: DovecotServer, make_app: Callable[..., App],
                                                       sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a complaint in INBOX, when the process dies after its case is committed but before the move,
    then the message is still in INBOX; and when the next pass runs, it is fetched again, recognised
    (duplicate), moved, and there is still exactly one case."""
    import ingestd.sources.imap as imap

    user = dovecot.add_user()
    dovecot.append(user, "INBOX", messages(1, "crash"))
    app = make_app(sqlite_url, intake=ONE_WORKER, mailboxes=[dovecot.mailbox_config(user)])

    def crash(*_a: Any, **_k: Any) -> None:
        raise Crash

    with monkeypatch.context() as m:
        m.setattr(imap, "settle", crash)
        with pytest.raises(Crash):
            run_once(app)
    assert case_count(app) == 1
    assert dovecot.count(user, "INBOX") == 1 and dovecot.count(user, "Processed") == 0

    assert run_once(app) == {"duplicate": 1}
    assert case_count(app) == 1
    assert dovecot.count(user, "INBOX") == 0 and dovecot.count(user, "Processed") == 1


def test_uidvalidity_change_resyncs_without_duplicates(dovecot: DovecotServer, make_app: Callable[..., App],
                                                       sqlite_url: str) -> None:
    """Given two messages taken with after = "seen" (so they stay in INBOX), when the folder's UIDVALIDITY
    changes and a new message arrives, then the next pass logs the change, takes the whole folder again
    and opens only the new case (the two are recognised as duplicates)."""
    user = dovecot.add_user()
    dovecot.append(user, "INBOX", messages(2, "uv"))
    app = make_app(sqlite_url, intake=ONE_WORKER, mailboxes=[dovecot.mailbox_config(user, after="seen")])
    assert run_once(app) == {"created": 2}

    old = dovecot.uidvalidity(user, "INBOX")
    app.mailboxes[0].close()
    dovecot.set_uidvalidity(user, "INBOX", old + 1000)
    dovecot.append(user, "INBOX", messages(1, "uv-new"))
    with captured_logs("WARNING") as logs:
        counts = run_once(app)

    assert counts == {"duplicate": 2, "created": 1}
    assert case_count(app) == 3
    assert sum("UIDVALIDITY changed" in r["message"] for r in logs) == 1
    with app.db.read() as session:
        state = session.get(SourceState, "imap:desk/INBOX")
    assert state is not None and state.state["uidvalidity"] == old + 1000


def test_message_appended_while_idling_is_taken_within_seconds(dovecot: DovecotServer,
                                                               make_app: Callable[..., App],
                                                               sqlite_url: str) -> None:
    """Given the daemon running with IDLE and a 60 s poll interval, when a complaint is appended after the
    first pass, then it is taken (case committed, message moved) within 2 s, which only IDLE can do."""
    user = dovecot.add_user()
    dovecot.append(user, "INBOX", messages(1, "first"))
    app = make_app(sqlite_url, intake=ONE_WORKER, mailboxes=[dovecot.mailbox_config(user, poll_seconds=60)])
    with running_daemon(app):
        assert wait_until(lambda: dovecot.count(user, "Processed") == 1, 15)
        time.sleep(0.5)  # the watcher goes back into IDLE
        dovecot.append(user, "INBOX", messages(1, "while idling"))
        started = time.monotonic()
        assert wait_until(lambda: dovecot.count(user, "Processed") == 2, 10, interval=0.05)
        took = time.monotonic() - started
    assert case_count(app) == 2
    assert took < 2.0, f"took {took:.2f} s"


def test_two_mailboxes_at_once(dovecot: DovecotServer, make_app: Callable[..., App], sqlite_url: str) -> None:
    """Given two mailboxes (desk: INBOX and Escalations, moved; sales: INBOX, deleted) on the running
    daemon, when messages arrive in all three folders, then each is taken into a case that names its own
    mailbox and source, and each folder is emptied as its mailbox says."""
    desk, sales = dovecot.add_user(), dovecot.add_user()
    dovecot.create_folder(desk, "Escalations")
    app = make_app(sqlite_url, intake=ONE_WORKER, mailboxes=[
        dovecot.mailbox_config(desk, "desk", folders=["INBOX", "Escalations"], poll_seconds=30),
        dovecot.mailbox_config(sales, "sales", after="delete", poll_seconds=30),
    ])
    with running_daemon(app):
        time.sleep(1.0)
        dovecot.append(desk, "INBOX", messages(2, "desk"))
        dovecot.append(desk, "Escalations", messages(1, "esc"))
        dovecot.append(sales, "INBOX", messages(3, "sales"))
        assert wait_until(lambda: case_count(app) == 6, 20)
        assert wait_until(lambda: dovecot.count(desk, "Processed") == 3 and dovecot.count(sales, "INBOX") == 0, 10)
    by_source: dict[tuple[str, str], int] = {}
    for c in cases(app):
        key = (c.source, (c.fields or {}).get("mailbox"))
        by_source[key] = by_source.get(key, 0) + 1
    assert by_source == {("imap:desk/INBOX", "desk"): 2, ("imap:desk/Escalations", "desk"): 1,
                         ("imap:sales/INBOX", "sales"): 3}
    assert dovecot.count(desk, "INBOX") == 0 and dovecot.count(desk, "Escalations") == 0


def test_folder_of_2000_messages_taken_once_each(dovecot: DovecotServer, make_app: Callable[..., App],
                                                 sqlite_url: str) -> None:
    """Given a folder of 2,000 complaints (fetched in UID batches of 150), when one pass runs (parsing in
    worker processes), then all 2,000 become cases, one each, and the folder is emptied into Processed."""
    user = dovecot.add_user()
    dovecot.write_maildir(user, "INBOX", messages(2000, "bulk"))
    app = make_app(sqlite_url, mailboxes=[dovecot.mailbox_config(user, batch_size=150)])

    counts = run_once(app)

    assert counts == {"created": 2000}
    assert case_count(app) == 2000
    with app.db.read() as session:
        subjects = set(session.exec(select(Case.subject)))
    assert len(subjects) == 2000
    assert dovecot.count(user, "INBOX") == 0 and dovecot.count(user, "Processed") == 2000


def test_mailbox_config_refuses_unsafe_or_inconsistent_settings() -> None:
    """Given mailbox settings that would send a password in clear to a remote host, give two credentials
    or none, or move into a watched folder, when validated, then each is refused with the reason; plain
    IMAP on loopback, and default ports per TLS mode, are fine."""
    from pydantic import ValidationError

    from ingestd.config.mailbox import Mailbox

    base = {"name": "desk", "host": "imap.example.com", "username": "u", "password": {"env": "X"}}
    for bad, reason in [({"tls": "plain"}, "in clear"), ({"oauth2_token": {"command": "t"}}, "exactly one"),
                        ({"password": None}, "exactly one"), ({"folders": ["INBOX", "Processed"]}, "move_to"),
                        ({"name": "a/b"}, "name")]:
        with pytest.raises(ValidationError, match=reason):
            Mailbox.model_validate({**base, **bad})
    assert Mailbox.model_validate({**base, "host": "127.0.0.1", "tls": "plain"}).effective_port == 143
    assert Mailbox.model_validate(base).effective_port == 993
    assert Mailbox.model_validate({**base, "tls": "starttls"}).source_id("INBOX") == "imap:desk/INBOX"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_fetched_mail_stays_out_of_the_imap_wire_log(dovecot: DovecotServer) -> None:
    """Given a complaint with a phone number in a mailbox, and imapclient's loggers at DEBUG: a client as
    imapclient ships it logs the whole fetched message (through `imapclient.imaplib`, the control); when
    ingestd's own connection fetches it, then the message arrives whole, the commands are still logged, and
    no log line holds any of the message."""
    user = dovecot.add_user()
    dovecot.append(user, "INBOX", [complaint(subject="投诉", body="请回电 13912345678，订单 SF1234567 延误。\n")])
    wire = logging.getLogger("imapclient")
    records, level = _Records(), wire.level
    wire.addHandler(records)
    wire.setLevel(logging.DEBUG)
    try:
        body, logged = _fetch_logged(dovecot.client(user), records)
        assert b"13912345678" in body and any("13912345678" in line for line in logged)
        body, logged = _fetch_logged(connect(Mailbox.model_validate(dovecot.mailbox_config(user))), records)
        assert b"13912345678" in body and logged and not any("13912345678" in line for line in logged)
    finally:
        wire.removeHandler(records)
        wire.setLevel(level)


def _fetch_logged(client: Any, records: _Records) -> tuple[bytes, list[str]]:
    """The first message of INBOX, and the wire-log lines written meanwhile."""
    records.lines.clear()
    try:
        client.select_folder("INBOX", readonly=True)
        got = client.fetch(client.search("ALL"), [b"BODY.PEEK[]"])
        return bytes(next(iter(got.values()))[b"BODY[]"]), list(records.lines)
    finally:
        client.logout()
