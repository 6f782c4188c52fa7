"""Fault: the register's PostgreSQL server goes away while the daemon is taking a drop folder.

Breaks: the session's PostgreSQL server (`pg_server`) under a running daemon, two ways, each test in a
database of its own:
- its backends are terminated (`pg_terminate_backend`, from a superuser connection): three times inside
  a batch's transaction, just before the batch's first case is inserted, and then every 0.3 s for about
  2 s by a killer thread while files keep arriving;
- the server itself is stopped (`pg_ctl stop -m fast`) right after the first batch of a pass is committed,
  kept down while 50 more files arrive and passes fail against it (a second or two), and started again
  on the same port. The server is started again in teardown whatever happens, since later tests share it.

Checks: each failed pass is one ERROR line for the folder, and the daemon's job lives on; no file goes to
`failed/` and nothing is parked in quarantine (an outage is not the input's fault); the files not
committed stay in the folder and are taken once the server is back: every complaint exactly one case, none
lost, none doubled.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event

from ingestd.app import App
from tests.faults.conftest import (
    assert_each_once,
    break_after,
    case_count,
    drop,
    drop_config,
    errors_for,
    waiting_files,
)
from tests.mail import complaint
from tests.servers.dovecot import captured_logs, running_daemon, wait_until
from tests.servers.postgres import PostgresServer

ONE_WORKER = {"parse_workers": 1}
pytestmark = pytest.mark.postgres


def _up(server: PostgresServer) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def pg_db(pg_server: PostgresServer) -> Iterator[tuple[PostgresServer, str, str]]:
    """(server, database name, URL) of a fresh database; the server is running again afterwards. Request it
    before `make_app`, so that the apps are closed before the database is dropped."""
    name = "fault_" + uuid.uuid4().hex[:10]
    url = pg_server.create_database(name)
    try:
        yield pg_server, name, url
    finally:
        if not _up(pg_server):
            pg_server.start()
        pg_server.drop_database(name)


def complaints(n: int, tag: str) -> list[bytes]:
    return [complaint(sender=f"Person {tag}{i} <p.{tag}{i}@example.com>", subject=f"投诉 {tag} {i}",
                      message_id=make_msgid(idstring=f"{tag}{i}", domain="example.com")) for i in range(n)]


def ids_of(messages: list[bytes]) -> set[str]:
    return {str(message_from_bytes(m)["Message-ID"]) for m in messages}


def terminate_backends(server: PostgresServer, database: str) -> int:
    """End every session on `database` (as an administrator would, or a failover); returns how many."""
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        rows = admin.execute("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                             "WHERE datname = %s AND pid <> pg_backend_pid()", (database,)).fetchall()
    return sum(1 for (ok,) in rows if ok)


def test_backends_terminated_mid_transaction_lose_and_double_nothing(
        pg_db: tuple[PostgresServer, str, str], make_app: Callable[..., App], tmp_path: Path) -> None:
    """Given the daemon taking 120 complaints dropped in four waves into PostgreSQL, when its sessions are
    terminated three times inside a batch's transaction and then every 0.3 s for about 2 s, then each kill
    either fails its pass with an ERROR line (the files stay for the next pass) or is absorbed when the batch
    is redone on a fresh connection (which way depends on where the kill lands); the daemon goes on, and all
    120 end as one case each."""
    server, database, url = pg_db
    folder = tmp_path / "drop"
    app = make_app(url, intake=ONE_WORKER, sources={"folders": [drop_config(folder)]})
    killed_in_txn = [0]

    @event.listens_for(app.db.engine, "before_cursor_execute")
    def kill_mid_transaction(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if killed_in_txn[0] < 3 and statement.lstrip().upper().startswith("INSERT INTO CASES"):
            killed_in_txn[0] += 1  # the batch has begun, and this statement goes to a dead session
            terminate_backends(server, database)

    waves = [complaints(30, f"w{n}-") for n in range(4)]
    stop_killer = threading.Event()
    killed = [0]

    def killer() -> None:
        while not stop_killer.wait(0.3):
            killed[0] += terminate_backends(server, database)

    with captured_logs() as logs, running_daemon(app):
        drop(folder, waves[0], "w0")
        assert wait_until(lambda: killed_in_txn[0] == 3, 20)
        event.remove(app.db.engine, "before_cursor_execute", kill_mid_transaction)
        thread = threading.Thread(target=killer, name="killer")
        thread.start()
        try:
            for n, wave in enumerate(waves[1:], 1):
                drop(folder, wave, f"w{n}")
                time.sleep(0.7)
        finally:
            stop_killer.set()
            thread.join()
        assert wait_until(lambda: not waiting_files(folder), 30), len(waiting_files(folder))
        assert wait_until(lambda: case_count(app) == 120, 10)

    errors = errors_for(logs, "folder:drop")
    assert errors and all("OperationalError" in e for e in errors), errors
    assert killed[0] > 0
    assert list((folder / "failed").iterdir()) == []
    assert len(list((folder / "processed").iterdir())) == 120
    assert_each_once(app, set().union(*(ids_of(w) for w in waves)))


def test_server_stopped_and_started_mid_pass_keeps_the_files_until_it_is_back(
        pg_db: tuple[PostgresServer, str, str], make_app: Callable[..., App], tmp_path: Path) -> None:
    """Given the daemon taking 150 dropped complaints into PostgreSQL, when the server is stopped right after
    the first batch of 50 is committed and 50 more complaints arrive while it is down, then every pass
    fails with one ERROR line, the 150 files not yet committed stay in the folder (none in failed/); when
    the server is started again, the daemon, still running, takes them all: 200 cases, one each."""
    server, _database, url = pg_db
    folder = tmp_path / "drop"
    app = make_app(url, intake={**ONE_WORKER, "batch_size": 50}, sources={"folders": [drop_config(folder)]})
    first, later = complaints(150, "first-"), complaints(50, "later-")
    stopped = break_after(app, 50, server.stop)
    drop(folder, first, "first")  # all there before the first pass, so its first batch is 50 of them
    try:
        with captured_logs() as logs, running_daemon(app):
            assert wait_until(stopped.is_set, 30)
            assert not _up(server)
            drop(folder, later, "later")
            assert wait_until(lambda: len(errors_for(logs, "folder:drop")) >= 3, 10)
            assert len(waiting_files(folder)) == 150 and list((folder / "failed").iterdir()) == []
            assert len(list((folder / "processed").iterdir())) == 50
            server.start()
            assert wait_until(lambda: not waiting_files(folder), 30), len(waiting_files(folder))
            assert wait_until(lambda: case_count(app) == 200, 10)
    finally:
        if not _up(server):
            server.start()

    errors = errors_for(logs, "folder:drop")
    assert all("OperationalError" in e for e in errors), errors
    assert list((folder / "failed").iterdir()) == []
    assert_each_once(app, ids_of(first) | ids_of(later))
