"""Crash harness: `ingestd run` killed with SIGKILL at random moments while it takes a mailbox and sends the
acknowledgements, restarted each time; afterwards, count what was lost or doubled.

    .venv/bin/python -m bench.crash_bench [--n 1000] [--kills 30] [--seed 7] [--no-record]

A private Dovecot holds N generated complaints; a real SMTP server (aiosmtpd) on loopback receives the
acknowledgements. After the kills, `ingestd run --once` passes finish the work. Checked:

- every message in exactly one case (by its Message-ID), none left in INBOX, nothing valid in quarantine;
- acknowledgements at the SMTP peer: one per case, and how many arrived twice (a kill between the server's
  250 and the commit that marks the row sent makes the sender try again: the copy has the same Message-ID);
- no orphaned blob files (files in the store that no row refers to).

Writes `crash_kills` {value: kills, lost, duplicates, ...} to bench/results.json and the "Crash harness"
section of bench/RESULTS.md. `crash_run` is the harness without the recording: `tests/faults/test_crash_kills.py`
runs it in CI with smaller counts (on the test session's Dovecot).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from bench.imap_bench import make_messages
from bench.results import record, update_section

if TYPE_CHECKING:
    from tests.servers.dovecot import DovecotServer
    from tests.servers.smtp import SmtpServer

ROOT = Path(__file__).resolve().parents[1]


def config(workdir: Path, mailbox: dict, smtp_port: int, *, claim_timeout_seconds: float = 15) -> Path:
    password = mailbox["password"]["file"]
    text = f"""
[store]
database_url = "sqlite:///{workdir}/ingestd.db"
data_dir = "{workdir}/var"

[routing]
file = "{ROOT}/config/routing.toml"

[outbound]
default_from = "complaints@ingestd.example"
templates_dir = "{ROOT}/config/templates"
notify_departments = false
ack_limit_per_sender_per_day = 1000
send_interval_seconds = 1
retry_base_seconds = 1
claim_timeout_seconds = {claim_timeout_seconds:g}       # rows a killed sender had claimed are taken again after this

[outbound.smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "plain"

[reminders]
enabled = false

[reports]
monthly = false

[[mailboxes]]
name = "desk"
host = "127.0.0.1"
port = {mailbox["port"]}
tls = "plain"
username = "{mailbox["username"]}"
password = {{ file = "{password}" }}
poll_seconds = 1
batch_size = 50
"""
    path = workdir / "ingestd.toml"
    path.write_text(text)
    return path


def ingestd(cfg: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "ingestd", "-q", "-c", str(cfg), *args], cwd=cfg.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def referenced_blobs(db: Path) -> set[str]:
    con = sqlite3.connect(db)
    try:
        found = {r[0] for r in con.execute("SELECT raw_sha256 FROM messages WHERE raw_sha256 IS NOT NULL")}
        found |= {r[0] for r in con.execute("SELECT sha256 FROM attachments")}
        found |= {r[0] for r in con.execute("SELECT raw_sha256 FROM quarantine")}
        found |= {r[0] for r in con.execute("SELECT raw_sha256 FROM outbox")}
    finally:
        con.close()
    return found


def _orphans(workdir: Path) -> int:
    blobs = {p.name for p in (workdir / "var" / "blobs").rglob("*") if p.is_file() and len(p.name) == 64}
    return len(blobs - referenced_blobs(workdir / "ingestd.db"))


def kill_repeatedly(cfg: Path, kills: int, rng: random.Random, *, min_wait: float = 1.0,
                    max_wait: float = 6.0) -> int:
    """Start `ingestd run` and SIGKILL its process group `min_wait`..`max_wait` seconds later, `kills` times."""
    done = 0
    for _ in range(kills):
        proc = ingestd(cfg, "run")
        time.sleep(rng.uniform(min_wait, max_wait))  # start-up takes ~2-3 s: some kills land before it, most during work
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        done += 1
    return done


def kill_in_the_window(cfg: Path, smtp: SmtpServer, kills: int, *, wait_seconds: float = 60) -> int:
    """Start `ingestd run` and SIGKILL its process group while the SMTP server holds the 250 for a message it
    has taken (RFC 1047's moment), then let the server answer; `kills` times. Returns the kills made (a run
    with nothing left to send holds nothing and is not killed there)."""
    done = 0
    for _ in range(kills):
        smtp.hold, smtp.holding = threading.Event(), threading.Event()
        proc = ingestd(cfg, "run")
        held = smtp.holding.wait(wait_seconds)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        smtp.hold.set()  # the 250 goes to whoever still listens for it
        done += held
        if not held:
            break
    smtp.hold = None
    return done


def finish(cfg: Path, server: DovecotServer, user: str, workdir: Path, *, passes: int = 40, pause: float = 3.0) -> None:
    """`ingestd run --once` until the mailbox is empty and the outbox has sent everything."""
    for _ in range(passes):
        subprocess.run([sys.executable, "-m", "ingestd", "-q", "-c", str(cfg), "run", "--once"], cwd=workdir,
                       capture_output=True, timeout=600)
        con = sqlite3.connect(workdir / "ingestd.db")
        waiting = con.execute("SELECT count(*) FROM outbox WHERE status IN ('queued', 'sending')").fetchone()[0]
        con.close()
        if server.count(user, "INBOX") == 0 and waiting == 0:
            break
        time.sleep(pause)  # claims of killed senders expire after claim_timeout_seconds


def crash_run(server: DovecotServer, smtp: SmtpServer, corpus: list[bytes], workdir: Path, *, kills: int, seed: int,
              window_kills: int = 0, claim_timeout_seconds: float = 15, min_wait: float = 1.0,
              max_wait: float = 6.0, pause: float = 3.0) -> dict:
    """The harness on a running Dovecot (`tests.servers.dovecot`) and SMTP server (`tests.servers.smtp`), in
    `workdir`: load `corpus` into a new mailbox, kill `ingestd run` `window_kills` times while the server
    holds a 250, then `kills` times at random moments, finish with `run --once` passes, sweep the blobs,
    and count. Returns the summary (without `seconds`); the SMTP server keeps running, its messages are
    counted as they stand."""
    rng = random.Random(seed)
    user = server.add_user()
    server.write_maildir(user, "INBOX", corpus)
    cfg = config(workdir, server.mailbox_config(user), smtp.port, claim_timeout_seconds=claim_timeout_seconds)
    in_window = kill_in_the_window(cfg, smtp, window_kills)
    done = kill_repeatedly(cfg, kills, rng, min_wait=min_wait, max_wait=max_wait)
    finish(cfg, server, user, workdir, pause=pause)
    orphans_before = _orphans(workdir)
    subprocess.run([sys.executable, "-m", "ingestd", "-q", "-c", str(cfg), "sweep-blobs", "--min-age-seconds",
                    "0"], cwd=workdir, capture_output=True, timeout=300, check=True)  # no daemon runs now
    left = server.count(user, "INBOX")
    con = sqlite3.connect(workdir / "ingestd.db")
    cases = con.execute("SELECT count(*) FROM cases").fetchone()[0]
    per_message = Counter(r[0] for r in con.execute(
        "SELECT message_id FROM messages WHERE direction = 'in'"))
    quarantined = con.execute("SELECT count(*) FROM quarantine WHERE status = 'parked'").fetchone()[0]
    outbox = dict(con.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())
    con.close()
    orphans = _orphans(workdir)
    acks = Counter(m.message["Message-ID"] for m in smtp.messages if m.message["X-Ingestd-Kind"] == "ack")
    n = len(corpus)
    assert len({m.split("@")[0] for m in per_message}) <= n
    return {"kills": done, "window_kills": in_window, "messages": n, "cases": cases, "lost": n - len(per_message),
            "duplicate_cases": cases - len(per_message),
            "messages_twice": sum(c - 1 for c in per_message.values() if c > 1), "left_in_inbox": left,
            "quarantined": quarantined, "acks_distinct": len(acks),
            "acks_delivered_twice": sum(c - 1 for c in acks.values() if c > 1), "outbox": outbox,
            "orphan_blobs_before_sweep": orphans_before, "orphan_blobs": orphans}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--window-kills", type=int, default=10, help="kills while the SMTP server holds a 250")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    from tests.servers.dovecot import running_dovecot
    from tests.servers.smtp import SmtpServer

    corpus = make_messages(args.n)
    smtp = SmtpServer()
    smtp.start()
    started = time.perf_counter()
    with running_dovecot() as server, tempfile.TemporaryDirectory(prefix="ingestd-crash-") as tmp:
        summary = crash_run(server, smtp, corpus, Path(tmp), kills=args.kills, seed=args.seed,
                            window_kills=args.window_kills)
    smtp.stop()
    summary["seconds"] = round(time.perf_counter() - started)
    print(json.dumps(summary, indent=2))
    if args.no_record:
        return
    kills, cases, lost, doubled_cases = summary["kills"], summary["cases"], summary["lost"], summary["duplicate_cases"]
    delivered_twice, orphans = summary["acks_delivered_twice"], summary["orphan_blobs"]
    orphans_before, left, quarantined = summary["orphan_blobs_before_sweep"], summary["left_in_inbox"], summary["quarantined"]
    window = summary["window_kills"]
    record("crash_kills", kills, "kills", floor=None, ratio=None, lost=lost, duplicates=doubled_cases, window_kills=window,
           acks_delivered_twice=delivered_twice, orphan_blobs=orphans, orphan_blobs_before_sweep=orphans_before,
           messages=args.n, cases=cases)
    update_section("Crash harness", "\n".join([
        f"`.venv/bin/python -m bench.crash_bench --n {args.n} --kills {args.kills} --window-kills {args.window_kills}` "
        f"— {args.n} generated complaints in",
        "a private Dovecot; `ingestd run` SIGKILLed (its whole process group) first while the SMTP server holds",
        "the 250 for a message it has taken (RFC 1047's moment), then at random moments (1–6 s after each start),",
        "and restarted each time; then `run --once` passes until the mailbox and the outbox are empty (a killed",
        "sender's claims expire after `claim_timeout_seconds`, 15 s here, 600 by default). Acknowledgements go to",
        "aiosmtpd.",
        "",
        "| kills in the 250's moment | kills at random | messages | cases | lost | duplicate cases | left in INBOX | "
        "quarantined | acks (distinct) | acks delivered twice | orphan blobs (before / after `ingestd sweep-blobs`) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {window} | {kills} | {args.n} | {cases} | {lost} | {doubled_cases} | {left} | {quarantined} | "
        f"{summary['acks_distinct']} | {delivered_twice} | {orphans_before} / {orphans} |",
        "",
        "SMTP gives no way to make \"the server has the message\" and \"we know it has\" one step (RFC 1047). The",
        "sent journal (`outbound/journal.py`) notes each 250 before the register's commit, and a row taken over",
        "from a killed sender is marked sent from it; the SMTP conversation runs in the courier",
        "(`outbound/courier.py`), a process in a session of its own that finishes the message in hand and its",
        "journal line when the daemon is killed. Before the courier (2a47201, the journal alone, the SMTP client",
        "in the daemon's process) the same command delivered 12 and 10 acknowledgements twice (seeds 7 and 8):",
        "one for each of the 10 kills in the 250's moment, 2 from the random kills; with the courier, 0 and 0",
        "(seeds 7 and 8, `--no-record`), and the table. Before the journal, random kills alone gave 7.",
    ]))


if __name__ == "__main__":
    main()
