"""SMTP delivery through the courier process, against the same client in the sender's own process.

    .venv/bin/python -m bench.smtp_bench [--n 2000] [--runs 5] [--no-record]

N generated acknowledgement-sized messages are sent over one connection to aiosmtpd on loopback, each
followed by its sent-journal line (append + fsync), the way the outbox sender does it:

- floor: `SmtpTransport` in this process, then `SentJournal.record` (the sender before the courier);
- value: `CourierTransport`, whose child process sends and writes the journal line itself.

The two alternate, `--runs` times each, on a fresh journal each run; medians are compared. The ratio is
what the courier's pipe hop and pickling cost on this machine. Writes `smtp_delivery` to
bench/results.json and the "SMTP delivery" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from pathlib import Path
from types import SimpleNamespace

from loguru import logger

from bench.results import median, record, update_section
from outbound.courier import CourierTransport
from outbound.journal import SentJournal, journal_key
from outbound.transport import SmtpEndpoint, SmtpTransport
from tests.servers.smtp import SmtpServer

QUEUED_AT = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)


def messages(n: int) -> list[tuple[SimpleNamespace, bytes]]:
    """Acknowledgement-shaped: a text part and an HTML alternative, in Chinese, about 3 KB."""
    made = []
    for i in range(n):
        case_no = f"C-20261102-{i:05d}"
        row = SimpleNamespace(id=i, idempotency_key=f"ack:{case_no}:1", created_at=QUEUED_AT,
                              from_addr="complaints@ingestd.example", to_addr=f"p.{i}@example.com")
        message = EmailMessage()
        message["From"] = "投诉受理中心 <complaints@ingestd.example>"
        message["To"] = f"Person {i} <p.{i}@example.com>"
        message["Subject"] = f"[{case_no}] 您的投诉已受理"
        message["Message-ID"] = make_msgid(idstring=case_no, domain="ingestd.example")
        text = f"您的投诉已受理，案件编号 {case_no}。我们将在 2026-11-09 前答复。\n" * 12
        message.set_content(text)
        message.add_alternative("<p>" + text.replace("\n", "</p><p>") + "</p>", subtype="html")
        made.append((row, message.as_bytes(policy=SMTP)))  # CRLF, as the outbox composes
    return made


def in_process(endpoint: SmtpEndpoint, journal: Path, batch: list[tuple[SimpleNamespace, bytes]]) -> float:
    transport, notes = SmtpTransport(endpoint), SentJournal(journal)
    started = time.perf_counter()
    for row, raw in batch:
        ref = transport.send(row, raw)
        notes.record(journal_key(row), ref, datetime.now(UTC))
        notes.forget(journal_key(row))
    transport.close()
    return len(batch) / (time.perf_counter() - started)


def through_courier(endpoint: SmtpEndpoint, journal: Path, batch: list[tuple[SimpleNamespace, bytes]]) -> float:
    transport = CourierTransport(endpoint, lambda: None, journal)
    transport.send(*batch[0])  # the process start is once per daemon, not per message
    started = time.perf_counter()
    for row, raw in batch[1:]:
        transport.send(row, raw)
    transport.close()
    rate = (len(batch) - 1) / (time.perf_counter() - started)
    transport.stop()
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    logger.remove()  # the courier's connection notes are not the benchmark's output
    batch = messages(args.n)
    size = sum(len(raw) for _, raw in batch) / len(batch)
    server = SmtpServer()
    server.start()
    endpoint = SmtpEndpoint(server.host, server.port, "plain", None, True, None, 30.0, None)
    floors: list[float] = []
    values: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="ingestd-smtp-") as tmp:
            for run in range(args.runs):
                floors.append(in_process(endpoint, Path(tmp) / f"floor-{run}.journal", batch))
                values.append(through_courier(endpoint, Path(tmp) / f"courier-{run}.journal", batch))
                print(f"run {run + 1}: in process {floors[-1]:,.0f} msg/s, courier {values[-1]:,.0f} msg/s")
    finally:
        server.stop()
    delivered = len(server.messages)
    assert delivered == 2 * args.n * args.runs, f"{delivered} messages reached the server"
    value, floor = median(values), median(floors)
    ratios = [v / f for v, f in zip(values, floors, strict=True)]
    print(f"median: courier {value:,.0f} msg/s, in process {floor:,.0f} msg/s, ratio {value / floor:.3f}")
    if args.no_record:
        return
    record("smtp_delivery", value, "msg/s", floor=floor, ratio=value / floor, runs=args.runs, messages=args.n,
           mean_bytes=round(size))
    update_section("SMTP delivery", "\n".join([
        f"`.venv/bin/python -m bench.smtp_bench --n {args.n} --runs {args.runs}` — {args.n} generated "
        f"acknowledgement-sized messages ({size / 1024:.1f} KB on average) over one connection to aiosmtpd on",
        "loopback, each followed by its sent-journal line (append + fsync). The floor is the SMTP client in the",
        "sender's own process; the value the courier process (`outbound/courier.py`), which sends and writes",
        "the journal line itself so that a kill of the daemon cannot fall between them. Alternating runs;",
        "the server (Python) is the slowest part of both.",
        "",
        "| | msg/s (median) | runs |",
        "|---|---:|---|",
        f"| floor: `SmtpTransport` in the sender's process | {floor:,.0f} | {', '.join(f'{x:,.0f}' for x in floors)} |",
        f"| `CourierTransport` (child process, pipe, pickle) | {value:,.0f} | {', '.join(f'{x:,.0f}' for x in values)} |",
        "",
        f"Ratio {value / floor:.3f} (per run: {', '.join(f'{r:.3f}' for r in ratios)}).",
    ]))


if __name__ == "__main__":
    main()
