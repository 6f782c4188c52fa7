"""Three `ingestd run` processes on one PostgreSQL and three Dovecot mailboxes: every message one case, every
mailbox taken by one worker at a time, and a SIGKILLed worker's mailbox taken over once its lease runs out."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from ingestd.store.db import normalise_url
from tests.mail import complaint
from tests.servers.dovecot import wait_until

REPO = Path(__file__).resolve().parents[2]
MAILBOXES = 3
PER_MAILBOX = 100
LATE = 30  # arrive in the killed worker's mailbox after the kill
TTL = 4.0


def messages(tag: str, n: int) -> list[bytes]:
    return [complaint(subject=f"投诉：快递延误 {tag}-{i}", sender=f"客户{i} <c{i}.{tag}@example.com>",
                      message_id=f"<{tag}-{i}@example.com>") for i in range(n)]


def write_config(workdir: Path, url: str, mailboxes: list[dict[str, object]]) -> Path:
    boxes = ""
    for m in mailboxes:
        password = m["password"]["file"]  # type: ignore[index]
        boxes += (f'\n[[mailboxes]]\nname = "{m["name"]}"\nhost = "127.0.0.1"\nport = {m["port"]}\ntls = "plain"\n'
                  f'username = "{m["username"]}"\npassword = {{ file = "{password}" }}\npoll_seconds = 1\n'
                  "batch_size = 20\n")
    path = workdir / "ingestd.toml"
    path.write_text(f"""
[store]
database_url = "{url}"
data_dir = "{workdir}/var"

[routing]
file = "{REPO}/config/routing.toml"

[outbound]
templates_dir = "{REPO}/config/templates"
send_interval_seconds = 1

[reminders]
enabled = false

[reports]
monthly = false

[workers]
lease_seconds = {TTL}
renew_seconds = 1
{boxes}""")
    return path


class Worker:
    def __init__(self, cfg: Path, n: int) -> None:
        self.log = cfg.parent / f"worker{n}.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "ingestd", "-c", str(cfg), "--log-json", "run"],
                                     cwd=cfg.parent, stdout=subprocess.DEVNULL, stderr=self.log.open("wb"),
                                     start_new_session=True)

    def passes(self) -> Counter[str]:
        """The IMAP passes this worker logged, added up by outcome (new, duplicate, ...)."""
        total: Counter[str] = Counter()
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)["record"]
            except (ValueError, KeyError):
                continue
            source = str(record["extra"].get("source", ""))
            if source.startswith("imap:") and record["message"].startswith("pass: "):
                total.update(ast.literal_eval(record["message"][len("pass: "):]))
        return total


@pytest.fixture
def database(pg_server: object) -> Iterator[tuple[str, Engine]]:
    name = "w_" + uuid.uuid4().hex[:12]
    url = pg_server.create_database(name)  # type: ignore[attr-defined]
    engine = create_engine(normalise_url(url))
    yield url, engine
    engine.dispose()
    pg_server.drop_database(name)  # type: ignore[attr-defined]


def scalar(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def holders(engine: Engine) -> dict[str, str]:
    """Unexpired leases on the mailboxes (none before the first worker has migrated the register)."""
    if not _has_table(engine, "source_leases"):
        return {}
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT source_id, holder FROM source_leases WHERE source_id LIKE 'imap:%' "
                                 "AND expires_at > now()")).all()
    return {r[0]: r[1] for r in rows}


def test_three_workers_share_the_mailboxes_and_take_over_a_killed_one(
        dovecot: object, database: tuple[str, Engine], tmp_path: Path) -> None:
    """Given three mailboxes of 100 complaints and three workers on one PostgreSQL, when they run, then every
    message is one case with a unique number, each mailbox is held by one worker (one each, once balanced) and no
    message is taken twice; when the worker holding one mailbox is SIGKILLed on "another host" (its lock file
    gone), then a survivor takes that mailbox over once the lease has run out (TTL 4 s), and the complaints that
    arrive there meanwhile become cases too; on SIGTERM the survivors give their leases back."""
    url, engine = database
    users = [dovecot.add_user() for _ in range(MAILBOXES)]  # type: ignore[attr-defined]
    for i, user in enumerate(users):
        dovecot.write_maildir(user, "INBOX", messages(f"m{i}", PER_MAILBOX))  # type: ignore[attr-defined]
    cfg = write_config(tmp_path, url, [dovecot.mailbox_config(u, f"m{i}")  # type: ignore[attr-defined]
                                       for i, u in enumerate(users)])
    workers = [Worker(cfg, n) for n in range(3)]
    try:
        total = MAILBOXES * PER_MAILBOX

        def all_cases(n: int) -> bool:
            return _has_table(engine, "cases") and scalar(engine, "SELECT count(*) FROM cases") == n

        assert wait_until(lambda: all_cases(total), timeout=60, interval=0.2), _diagnose(engine, workers)
        # each pass has also let go of its messages and said so: a kill between a commit and its pass's log line
        # would leave that pass out of the count below (its cases are there; nobody logged them)
        assert wait_until(lambda: sum((w.passes() for w in workers), Counter()) == Counter(created=total),
                          timeout=15, interval=0.2), sum((w.passes() for w in workers), Counter())
        assert wait_until(lambda: len(set(holders(engine).values())) == 3, timeout=15, interval=0.2), \
            f"not balanced: {holders(engine)}"
        held = holders(engine)
        assert sorted(held) == [f"imap:m{i}/INBOX" for i in range(MAILBOXES)]

        # kill the holder of m0, as if its host had gone: no lock file to find, so only the TTL frees its lease
        victim_id = held["imap:m0/INBOX"]
        victim = next(w for w in workers if w.proc.pid == int(victim_id.split(":")[1]))
        # its lock file goes first: removed after the kill, a survivor could find it unlocked in between and
        # (rightly, for a process of this host) take over at once
        for lock in (tmp_path / "var" / "workers").glob(f"*{victim.proc.pid}*.lock"):
            lock.unlink()
        os.killpg(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait(10)
        killed = time.monotonic()
        dovecot.append(users[0], "INBOX", messages("late", LATE))  # type: ignore[attr-defined]
        assert wait_until(lambda: holders(engine).get("imap:m0/INBOX", victim_id) != victim_id, timeout=TTL + 10,
                          interval=0.1), f"no takeover: {holders(engine)}"
        took_over = time.monotonic() - killed
        assert TTL - 1.5 <= took_over <= TTL + 6, took_over  # not before the lease ran out, and soon after
        assert wait_until(lambda: all_cases(total + LATE), timeout=30, interval=0.2), _diagnose(engine, workers)

        survivors = [w for w in workers if w is not victim]
        for w in survivors:
            w.proc.send_signal(signal.SIGTERM)
        for w in survivors:
            assert w.proc.wait(30) == 0
        assert holders(engine) == {}  # given back on a clean stop (and the victim's has long run out)
    finally:
        for w in workers:
            if w.proc.poll() is None:
                os.killpg(w.proc.pid, signal.SIGKILL)
                w.proc.wait(10)

    with engine.connect() as conn:
        per_message = conn.execute(text("SELECT m.message_id, count(DISTINCT m.case_id) FROM messages m "
                                        "WHERE m.direction = 'in' GROUP BY m.message_id")).all()
        case_numbers = conn.execute(text("SELECT count(*), count(DISTINCT case_no) FROM cases")).one()
    assert len(per_message) == total + LATE and all(n == 1 for _, n in per_message)
    assert case_numbers == (total + LATE, total + LATE)
    for user in users:
        assert dovecot.count(user, "INBOX") == 0  # type: ignore[attr-defined]
    # one worker at a time per mailbox: no message was fetched and recorded twice (a second worker on the same
    # folder would have logged "duplicate" outcomes for what the first had just recorded)
    passes = sum((w.passes() for w in workers), Counter())
    assert passes == Counter(created=total + LATE), passes


def _has_table(engine: Engine, name: str) -> bool:
    return bool(scalar(engine, "SELECT to_regclass(:name) IS NOT NULL", name=name))


def _diagnose(engine: Engine, workers: list[Worker]) -> str:
    tails = "\n".join(f"--- {w.log.name} (exit {w.proc.poll()}):\n" + "\n".join(
        w.log.read_text(errors="replace").splitlines()[-5:]) for w in workers)
    cases = scalar(engine, "SELECT count(*) FROM cases") if _has_table(engine, "cases") else "-"
    return f"cases: {cases}; leases: {holders(engine)}\n{tails}"
