"""Several workers on one PostgreSQL: IMAP intake throughput with 1, 2 and 4 `ingestd run` processes.

    .venv/bin/python -m bench.workers_bench [--n 4000] [--mailboxes 4] [--runs 3] [--workers 1,2,4] [--no-record]

N generated complaints (bench.imap_bench.make_messages) are spread round-robin over M mailboxes of a private
Dovecot; a private PostgreSQL holds the register. Each run gets fresh mailboxes and a fresh database, then starts
W `ingestd run` processes at once (routing rules, acknowledgements queued and written as .eml files by the outbox
job, as a real deployment would) and polls the database until every message is a case. The figure is N divided by
the wall time from starting the processes (their start-up included) to the last case.

Checked in every run: every message is exactly one case (no Message-ID on two cases), case numbers are distinct,
no more cases than messages, and the mailboxes end empty. Median of the runs per worker count; writes
`workers_1`, `workers_2`, `workers_4` in bench/results.json and the "Several workers on PostgreSQL" section of
bench/RESULTS.md. Needs root, `dovecot-imapd` and `postgresql` (as the tests do).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.imap_bench import make_messages
from bench.results import median, record, update_section
from ingestd.store.db import normalise_url

ROOT = Path(__file__).resolve().parents[1]
LEASE_SECONDS = 6.0  # short, so that the workers started together settle their shares within a second or two
RENEW_SECONDS = 1.0


@dataclass
class Run:
    workers: int
    seconds: float
    first_case: float  # seconds from start to the first committed case (start-up, migration, login)
    cases: int
    duplicates: int
    takeovers: int  # leases taken (M when no worker ever had to give one back)
    steady: float  # msg/s from the first committed case to the last: without the start-up
    cpu_busy: float  # share of the machine's CPU time in use during the run (every process, ours or not)
    lock_waiting: float  # mean number of worker sessions waiting on a lock (sampled each poll; pg_stat_activity)
    waited_on: Counter[str]  # the statements found waiting, by their first words

    @property
    def rate(self) -> float:
        return self.cases / self.seconds


def config(workdir: Path, url: str, mailboxes: list[dict]) -> Path:
    boxes = "".join(f"""
[[mailboxes]]
name = "{m['name']}"
host = "127.0.0.1"
port = {m['port']}
tls = "plain"
username = "{m['username']}"
password = {{ file = "{m['password']['file']}" }}
poll_seconds = 2
batch_size = 200
timeout_seconds = 120
""" for m in mailboxes)
    path = workdir / "ingestd.toml"
    path.write_text(f"""
[store]
database_url = "{url}"
data_dir = "{workdir}/var"

[routing]
file = "{ROOT}/config/routing.toml"

[outbound]
templates_dir = "{ROOT}/config/templates"
ack_limit_per_sender_per_day = 1000

[reminders]
enabled = false

[reports]
monthly = false

[workers]
lease_seconds = {LEASE_SECONDS}
renew_seconds = {RENEW_SECONDS}
{boxes}""")
    return path


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot (/proc/stat): how loaded the machine was over a run."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def count_duplicates(url: str, n: int) -> tuple[int, int, float]:
    """(cases, duplicates, steady msg/s): duplicates are Message-IDs on more than one case, repeated case numbers,
    and cases beyond N; the steady rate runs from the first case's commit to the last's."""
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            cases, numbers, first, last = conn.execute(text(
                "SELECT count(*), count(DISTINCT case_no), min(created_at), max(created_at) FROM cases")).one()
            doubled = conn.execute(text(
                "SELECT count(*) FROM (SELECT message_id FROM messages WHERE direction = 'in' GROUP BY message_id "
                "HAVING count(DISTINCT case_id) > 1) AS twice")).scalar_one()
    finally:
        engine.dispose()
    span = (last - first).total_seconds() if cases > 1 else 0.0
    return cases, int(doubled) + (cases - numbers) + max(0, cases - n), (cases - 1) / span if span else 0.0


def one_run(pg: object, dovecot: object, shares: list[list[bytes]], workers: int, tag: str) -> Run:
    n = sum(map(len, shares))
    name = f"bench_workers_{tag}"
    url = pg.create_database(name)  # type: ignore[attr-defined]
    users = [dovecot.add_user() for _ in shares]  # type: ignore[attr-defined]
    for user, share in zip(users, shares, strict=True):
        dovecot.write_maildir(user, "INBOX", share)  # type: ignore[attr-defined]
    workdir = Path(tempfile.mkdtemp(prefix="ingestd-workers-bench-"))
    cfg = config(workdir, url, [dovecot.mailbox_config(u, f"mb{i}") for i, u in enumerate(users)])  # type: ignore[attr-defined]
    engine = create_engine(normalise_url(url))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        cpu_before = cpu_times()
        started = time.perf_counter()
        for w in range(workers):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "ingestd", "-c", str(cfg), "run"], cwd=workdir, stdout=subprocess.DEVNULL,
                stderr=(workdir / f"worker{w}.log").open("wb"), start_new_session=True))
        first = None
        waiting: list[int] = []
        waited_on: Counter[str] = Counter()
        deadline = started + max(300.0, n / 5)
        while True:
            time.sleep(0.25)
            if time.perf_counter() > deadline:
                raise SystemExit(f"{workers} worker(s): not done in time; logs in {workdir}")
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                raise SystemExit(f"a worker exited ({dead[0].returncode}); logs in {workdir}")
            try:
                with engine.connect() as conn:
                    done = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
                    parked = conn.execute(text("SELECT count(*) FROM quarantine")).scalar_one()
                    stuck = conn.execute(text(
                        "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'")).scalars().all()
                    waiting.append(len(stuck))
                    waited_on.update(" ".join(q.split()[:3]) for q in stuck)
            except Exception:  # not migrated yet
                continue
            if parked:  # the corpus is all readable: a quarantined message means a broken build, not a figure
                raise SystemExit(f"{workers} worker(s): {parked} message(s) quarantined; logs in {workdir}")
            if done and first is None:
                first = time.perf_counter() - started
            if done >= n:
                took = time.perf_counter() - started
                cpu_after = cpu_times()
                break
        for _ in range(100):  # the last batch is settled (moved) just after its commit
            if all(dovecot.count(u, "INBOX") == 0 for u in users):  # type: ignore[attr-defined]
                break
            time.sleep(0.2)
        else:
            raise SystemExit(f"messages left in the mailboxes; logs in {workdir}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        engine.dispose()
    cases, duplicates, steady = count_duplicates(url, n)
    takeovers = sum(log.read_text(errors="replace").count(": took ") for log in workdir.glob("worker*.log"))
    pg.drop_database(name)  # type: ignore[attr-defined]
    shutil.rmtree(workdir, ignore_errors=True)
    busy = (cpu_after[0] - cpu_before[0]) / max(1, cpu_after[1] - cpu_before[1])
    return Run(workers, took, first or took, cases, duplicates, takeovers, steady, busy,
               sum(waiting) / len(waiting) if waiting else 0.0, waited_on)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--mailboxes", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    ap.add_argument("--no-record", action="store_true", help="print only; do not write results")
    args = ap.parse_args()
    counts = [int(x) for x in args.workers.split(",")]

    from tests.servers.dovecot import running_dovecot
    from tests.servers.postgres import running_postgres

    t0 = time.perf_counter()
    corpus = make_messages(args.n)
    shares = [corpus[i::args.mailboxes] for i in range(args.mailboxes)]
    size_mb = sum(map(len, corpus)) / 1e6
    print(f"generated {args.n} messages, {size_mb:.1f} MB, in {time.perf_counter() - t0:.1f} s; "
          f"{args.mailboxes} mailboxes; {os.cpu_count()} cores")
    results: dict[int, list[Run]] = {w: [] for w in counts}
    with running_postgres() as pg, running_dovecot() as dovecot:
        for run in range(args.runs):
            for workers in counts:  # interleaved, so that a noisy minute does not hit one worker count only
                got = one_run(pg, dovecot, shares, workers, f"{run}_{workers}")
                results[workers].append(got)
                print(f"run {run + 1}, {workers} worker(s): {got.rate:,.1f} msg/s ({got.seconds:.1f} s, first case "
                      f"after {got.first_case:.1f} s), {got.cases} cases, {got.duplicates} duplicates, "
                      f"{got.takeovers} lease(s) taken; {got.steady:,.1f} msg/s from first case to last; CPU {got.cpu_busy:.0%} busy; "
                      f"{got.lock_waiting:.2f} sessions waiting on a lock on average "
                      f"({', '.join(f'{q}: {c}' for q, c in got.waited_on.most_common(3)) or 'none'})",
                      flush=True)
    base = median([r.rate for r in results[counts[0]]])
    rows = []
    for workers in counts:
        runs = results[workers]
        value = median([r.rate for r in runs])
        steady = median([r.steady for r in runs])
        duplicates = sum(r.duplicates for r in runs)
        print(f"median, {workers} worker(s): {value:,.1f} msg/s ({value / base:.2f}×), {steady:,.1f} msg/s from first "
              f"case to last, {duplicates} duplicates")
        if not args.no_record:
            record(f"workers_{workers}", value, "msg/s", duplicates=duplicates, n=args.n, mailboxes=args.mailboxes,
                   runs=args.runs, runs_msg_s=[round(r.rate, 1) for r in runs], speedup=round(value / base, 2),
                   first_case_s=round(median([r.first_case for r in runs]), 1), cores=os.cpu_count(),
                   steady_msg_s=round(steady, 1), leases_taken=[r.takeovers for r in runs],
                   cpu_busy=round(median([r.cpu_busy for r in runs]), 2),
                   lock_waiting=round(median([r.lock_waiting for r in runs]), 2),
                   waited_on=dict(sum((r.waited_on for r in runs), Counter()).most_common(3)),
                   lease_seconds=LEASE_SECONDS)
        rows.append(f"| {workers} | {value:,.1f} | {value / base:.2f}× | {', '.join(f'{r.rate:,.1f}' for r in runs)} "
                    f"| {median([r.seconds for r in runs]):.1f} s | {median([r.first_case for r in runs]):.1f} s "
                    f"| {steady:,.1f} | {median([r.cpu_busy for r in runs]):.0%} "
                    f"| {median([r.lock_waiting for r in runs]):.2f} | {duplicates} |")
    if args.no_record:
        return
    table = "\n".join(rows)
    total_duplicates = sum(r.duplicates for runs in results.values() for r in runs)
    waited = sum((r.waited_on for runs in results.values() for r in runs), Counter())
    waits = ", ".join(f"`{q} ...` {c / sum(waited.values()):.0%}" for q, c in waited.most_common(3)
                      if c / sum(waited.values()) >= 0.01) or "none found"
    first_cases = " / ".join(f"{median([r.first_case for r in results[w]]):.0f}" for w in counts)
    update_section("Several workers on PostgreSQL", f"""
`.venv/bin/python -m bench.workers_bench --n {args.n} --mailboxes {args.mailboxes} --runs {args.runs}` — {args.n:,}
generated complaints ({size_mb:.1f} MB, the IMAP benchmark's mix) spread over {args.mailboxes} mailboxes of a private
Dovecot; one private PostgreSQL register (fsync off); W `ingestd run` processes started together on a fresh database
and fresh mailboxes each run, with the shipped routing rules and acknowledgements queued (and written as .eml
files by the outbox job). Wall time from starting the processes (start-up included) until every message is a
case; median of {args.runs} runs; leases of {LEASE_SECONDS:g} s renewed every {RENEW_SECONDS:g} s. {os.cpu_count()}-core
machine shared with other work.

| workers | msg/s (median) | vs 1 | runs | wall time | first case after | msg/s, first case to last | CPU busy | waiting on a lock | duplicates |
|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|
{table}

Duplicates count Message-IDs found on more than one case, repeated case numbers and cases beyond the messages
({total_duplicates} over all runs). "CPU busy" is the whole machine's CPU in use during the run (all processes:
the workers, PostgreSQL, Dovecot, and anything else running then). "Waiting on a lock" is the mean number of
worker sessions found waiting on a PostgreSQL lock, sampled four times a second.

Why it scales as it does. Each mailbox is leased to one worker at a time, so W workers split the {args.mailboxes}
mailboxes (at most ceil(mailboxes / W) each) and fetch and parse in parallel. Two things limit the rest:

- the machine: a worker is one Python process using about one core, and with {os.cpu_count()} cores one worker
  already shares the machine with PostgreSQL and Dovecot; more workers than cores only add processes competing
  for the same cores (and their start-up, {first_cases} s to the first case, counts in the wall time);
- the register: every worker writes to one PostgreSQL, which shares the same cores. Case numbers no longer make
  batches take turns: on PostgreSQL each number is taken in a short transaction of its own (`NumberPool` in
  `ingestd/store/case_numbers.py`; before that, each batch held the month's counter row until it committed, and
  the sessions found waiting on a lock were all waiting for it). Sessions found waiting now: {waits}.

On a machine with more cores, throughput grows with the workers until PostgreSQL's own commit rate dominates.
""")


if __name__ == "__main__":
    main()
