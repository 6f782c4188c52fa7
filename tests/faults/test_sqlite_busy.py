"""Fault: SQLite busy: another process holds the register's write lock for longer than the busy timeout.

Breaks: a separate process opens the register and takes its write lock (`BEGIN IMMEDIATE`), holding it
for a few seconds: while the daemon runs with a drop folder, a mailbox and an SMTP peer (after it has
warmed up, so that it holds its sources), and while the outbox sender runs with messages queued. The busy timeout is made 0.5 s for the test (`SQLITE_BUSY_TIMEOUT_SECONDS`,
60 s in production), so the lock outlasts it many times over.

Checks: each writer reports the busy register with an ERROR line that says "database is locked" (the drop
folder, the mailbox and the outbox sender, each under its own source) and nothing is given up: the
dropped files stay in the folder (none in `failed/`), the IMAP messages stay in INBOX, nothing is parked
in quarantine, no queued mail is sent or marked as attempted; the daemon goes on, and once the lock is
released every input becomes one case and every queued message is delivered once.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from email import message_from_bytes
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from ingestd.app import App
from ingestd.pipeline.items import RawInput
from ingestd.store import db as store_db
from tests.faults.conftest import (
    assert_each_once,
    case_count,
    drop,
    drop_config,
    errors_for,
    quarantined,
    waiting_files,
)
from tests.mail import complaint
from tests.outbound.conftest import outbound_section, outbox
from tests.servers.dovecot import DovecotServer, captured_logs, running_daemon, wait_until
from tests.servers.smtp import SmtpServer

HOLD_SECONDS = 3.0
LOCKER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
con.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()  # hold the write lock until the test closes our stdin
con.execute("ROLLBACK")
"""


class WriteLock:
    """Another process holding SQLite's write lock on the register."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(10)



def complaints(n: int, tag: str) -> list[bytes]:
    return [complaint(sender=f"Person {tag}{i} <p.{tag}{i}@example.com>", subject=f"投诉 {tag} {i}",
                      message_id=make_msgid(idstring=f"{tag}{i}", domain="example.com")) for i in range(n)]


def test_busy_register_keeps_every_input_until_the_lock_is_released(
        dovecot: DovecotServer, smtp: SmtpServer, make_app: Callable[..., App], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Given the daemon running with a drop folder, a mailbox and an SMTP peer, warmed up (one complaint
    taken from each, its mail sent), when another process holds the write lock for 3 s (six busy timeouts)
    while 5 files are dropped and 5 messages arrive, then the folder, the mailbox and the sender each log
    "database is locked" and keep what they have: the files stay in the folder (none in failed/), the
    messages in INBOX, nothing in quarantine; when the lock is released, all 12 complaints are one case
    each, and each of their 24 acknowledgements and notifications is delivered once."""
    monkeypatch.setattr(store_db, "SQLITE_BUSY_TIMEOUT_SECONDS", 0.5)
    db_path = tmp_path / "ingestd.db"
    folder = tmp_path / "drop"
    user = dovecot.add_user()
    app = make_app(f"sqlite:///{db_path}", intake={"parse_workers": 1},
                   sources={"folders": [drop_config(folder)]},
                   mailboxes=[dovecot.mailbox_config(user, poll_seconds=0.5)],
                   outbound=outbound_section(smtp, send_interval_seconds=0.3), reminders={"enabled": False})
    warm_drop, warm_mail = complaints(1, "warm-drop"), complaints(1, "warm-imap")
    dropped, mailed = complaints(5, "drop"), complaints(5, "imap")
    lock: WriteLock | None = None
    try:
        with captured_logs() as logs, running_daemon(app):
            drop(folder, warm_drop, "warm")
            dovecot.append(user, "INBOX", warm_mail)
            assert wait_until(lambda: case_count(app) == 2 and len(smtp.messages) == 4, 20)
            assert wait_until(lambda: dovecot.count(user, "INBOX") == 0 and not waiting_files(folder), 10)

            lock = WriteLock(db_path)
            held_since, before = time.monotonic(), len(logs)
            drop(folder, dropped, "busy")
            dovecot.append(user, "INBOX", mailed)

            def reported(source: str) -> list[str]:
                return errors_for(logs[before:], source)

            sources = ("folder:drop", "imap:desk/INBOX", "outbox")
            assert wait_until(lambda: all(reported(s) for s in sources), 10), \
                [r["message"] for r in logs[before:] if r["level"].name == "ERROR"]
            time.sleep(max(0.0, HOLD_SECONDS - (time.monotonic() - held_since)))
            for source in sources:
                assert all("database is locked" in line for line in reported(source)), (source, reported(source))
            assert len(waiting_files(folder)) == 5 and list((folder / "failed").iterdir()) == []
            assert dovecot.count(user, "INBOX") == 5
            assert case_count(app) == 2 and quarantined(app) == [] and len(smtp.messages) == 4

            lock.release()
            assert wait_until(lambda: case_count(app) == 12 and not waiting_files(folder), 20)
            assert wait_until(lambda: dovecot.count(user, "INBOX") == 0, 20)
            assert wait_until(lambda: len(outbox(app)) == 24 and {r.status for r in outbox(app)} == {"sent"}, 20)
    finally:
        if lock is not None:
            lock.release()
    ids = {str(message_from_bytes(m)["Message-ID"]) for m in warm_drop + warm_mail + dropped + mailed}
    assert_each_once(app, ids)
    delivered = [m.message["Message-ID"] for m in smtp.messages]
    assert len(delivered) == 24 and len(set(delivered)) == 24, "each message delivered exactly once"


def test_busy_register_keeps_the_outbox_queued_until_the_lock_is_released(
        smtp: SmtpServer, make_app: Callable[..., App], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given two cases whose acknowledgements and notifications are queued, when the sender runs while another
    process holds the write lock, then it fails within about the busy timeout with "database is locked"
    before claiming anything: nothing is sent, every row is still queued and unattempted (no backoff was
    charged for the register's fault); when the lock is released, the next run delivers each message once."""
    monkeypatch.setattr(store_db, "SQLITE_BUSY_TIMEOUT_SECONDS", 0.5)
    db_path = tmp_path / "ingestd.db"
    app = make_app(f"sqlite:///{db_path}", outbound=outbound_section(smtp), reminders={"enabled": False})
    for data in complaints(2, "queued"):
        app.intake.take(RawInput(data=data, source="test"))
    assert app.outbound is not None and len(outbox(app)) == 4

    lock = WriteLock(db_path)
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            app.outbound.drain()
        assert time.monotonic() - started < 5
        assert smtp.messages == []
        assert {(r.status, r.attempts, r.claimed_by) for r in outbox(app)} == {("queued", 0, None)}
    finally:
        lock.release()
    assert app.outbound.drain() == {"sent": 4}
    assert app.outbound.drain() == {}
    delivered = [m.message["Message-ID"] for m in smtp.messages]
    assert len(delivered) == 4 and len(set(delivered)) == 4
