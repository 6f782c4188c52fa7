"""IMAP intake throughput against a private Dovecot, beside the floor of raw FETCH.

    .venv/bin/python -m bench.imap_bench [--n 5000] [--runs 3] [--batch 200] [--no-record] [--cold]

Loads N generated complaints (a deterministic mix of sizes, charsets, HTML and attachments) into a fresh
mailbox per run, then measures on that same folder:

- floor: imapclient alone, `UID FETCH n:m (BODY.PEEK[])` in batches of `--batch`, read-only (EXAMINE);
- ingestd: `run_once` end to end (fetch → parse in worker processes → thread → classify → record in
  SQLite → MOVE to Processed), with a fresh register each run.

Median of the runs each; writes `bench/results.json` (`imap_intake`) and the "IMAP intake" section of
`bench/RESULTS.md`. Needs root and `dovecot-imapd` (as the tests do).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from imapclient import IMAPClient

from bench.results import median, record, update_section
from ingestd.sources.imap_conn import without_wire_trace

SEED = 20261123
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明"]
TOPICS = [
    ("快递延误", "我的包裹 {order} 已经超过十天没有更新物流信息，客服电话一直打不通。"),
    ("商品质量问题", "收到的电饭煲 {order} 使用三天就无法加热，要求退货并赔偿运费。"),
    ("退款未到账", "订单 {order} 申请退款已经二十个工作日，至今没有到账，请尽快处理。"),
    ("服务态度差", "门店工作人员态度恶劣，拒绝为我办理 {order} 的售后，要求道歉。"),
    ("虚假宣传", "广告宣称的功能与实际不符，订单号 {order}，要求按照消费者权益保护法三倍赔偿。"),
]
ENGLISH = ("Late delivery", "My parcel {order} has not moved for ten days and nobody answers the phone. "
                            "I want a refund of the shipping cost.")
CHARSETS = ["utf-8"] * 6 + ["gb2312", "gbk", "gb18030", "big5"]


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.5 else "")


def make_message(i: int, rng: random.Random) -> bytes:
    """One complaint: 70% plain text, 15% with an HTML part, 15% with attachments (5–300 KB)."""
    english = rng.random() < 0.1
    subject, body = ENGLISH if english else rng.choice(TOPICS)
    order = f"SF{rng.randrange(10**9, 10**10)}"
    name = "Alex Smith" if english else _name(rng)
    phone = f"13{rng.randrange(10**8, 10**9)}"
    paras = [body.format(order=order)]
    for _ in range(rng.choice([0, 1, 2, 4, 8])):
        paras.append(rng.choice(TOPICS)[1].format(order=f"JD{rng.randrange(10**8, 10**9)}"))
    paras.append(f"姓名：{name}\n电话：{phone}\n" if not english else f"Name: {name}\nPhone: {phone}\n")
    text = "\n\n".join(paras)
    charset = "utf-8" if english else rng.choice(CHARSETS)
    if charset == "big5":
        text = text.encode("big5", "ignore").decode("big5")  # keep only what Big5 can carry
    msg = EmailMessage()
    msg["From"] = f"{name} <user{i}@example.{rng.choice(['com', 'cn', 'net'])}>"
    msg["To"] = "complaints@ingestd.example"
    msg["Subject"] = f"投诉：{subject} {order}" if not english else f"Complaint: {subject} {order}"
    msg["Date"] = format_datetime(datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=i * 7))
    msg["Message-ID"] = f"<bench-{SEED}-{i}@example.com>"
    kind = rng.random()
    msg.set_content(text, charset=charset)
    if kind < 0.15:
        html = "<html><body>" + "".join(f"<p>{p}</p>" for p in paras) + "</body></html>"
        msg.add_alternative(html, subtype="html", charset="utf-8")
    elif kind < 0.30:
        for n in range(rng.choice([1, 1, 2, 3])):
            size = rng.choice([5, 20, 60, 120, 300]) * 1024
            data = rng.randbytes(size)
            ctype, fname = rng.choice([("image/jpeg", f"照片{n}.jpg"), ("application/pdf", f"发票{n}.pdf"),
                                       ("application/octet-stream", f"录音{n}.amr")])
            maintype, subtype = ctype.split("/")
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=fname)
    return msg.as_bytes()


def make_messages(n: int) -> list[bytes]:
    rng = random.Random(SEED)
    return [make_message(i, rng) for i in range(n)]


def floor_fetch(server: object, user: str, batch: int, *, wire_trace: bool = True) -> tuple[float, int]:
    """Raw imapclient: all messages with BODY.PEEK[] in UID batches; returns (seconds, bytes). `wire_trace`:
    imapclient as it ships, which has imaplib format every fetched message for its debug log; without it, as
    ingestd's own connections are (`imap_conn.without_wire_trace`)."""
    client = IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=120)  # type: ignore[attr-defined]
    if not wire_trace:
        without_wire_trace(client)
    client.login(user, server.users[user])  # type: ignore[attr-defined]
    started = time.perf_counter()
    client.select_folder("INBOX", readonly=True)
    uids = client.search("ALL")
    total = 0
    for i in range(0, len(uids), batch):
        got = client.fetch(uids[i:i + batch], [b"BODY.PEEK[]"])
        total += sum(len(v[b"BODY[]"]) for v in got.values())
    took = time.perf_counter() - started
    client.logout()
    return took, total


def _app(workdir: Path, workers: int | None, mailboxes: list[dict]) -> object:
    from ingestd.app import build_app
    from ingestd.config import LoadedConfig, Settings

    settings = Settings.model_validate({
        "store": {"database_url": f"sqlite:///{workdir}/ingestd.db", "data_dir": str(workdir / "var")},
        "intake": {} if workers is None else {"parse_workers": workers},
        "mailboxes": mailboxes,
    })
    return build_app(LoadedConfig(settings, None))


def memory_run(corpus: list[bytes], workers: int | None, workdir: Path, *, cold: bool = False) -> float:
    """The pipeline alone (`Intake.take_many` over the messages in memory, no IMAP): its ceiling."""
    from ingestd.pipeline.items import RawInput

    app = _app(workdir, workers, [])
    try:
        if not cold:
            _start_workers(app)
        started = time.perf_counter()
        n = sum(1 for _ in app.intake.take_many(  # type: ignore[attr-defined]
            RawInput(data, "bench", str(i), mailbox="bench") for i, data in enumerate(corpus)))
        took = time.perf_counter() - started
    finally:
        app.close()  # type: ignore[attr-defined]
    assert n == len(corpus)
    return took


def _start_workers(app: object) -> float:
    """Start the parse workers and wait until they are warm, as `ingestd run` does when it starts (the runs
    measure a running daemon); returns how long that took, reported apart."""
    started = time.perf_counter()
    for warm in app.intake.start_workers():  # type: ignore[attr-defined]
        warm.result()
    return time.perf_counter() - started


def _pool_cpu(app: object) -> float:
    pool = app.intake._pool  # type: ignore[attr-defined]
    return sum(_process_cpu(pid) for pid in (pool._processes if pool else ()))


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> float:
    """CPU seconds all cores have spent busy (not idle, not waiting for I/O) since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def ingest_run(server: object, user: str, batch: int, workers: int | None, workdir: Path,
               profile: Path | None, *, cold: bool = False) -> tuple[float, dict, float, dict[str, float], float]:
    """Intake up to "acknowledgement queued" (what the issue measures), then, timed apart, the outbox's delivery
    of those acknowledgements (MIME built and written as .eml files: no SMTP configured). Also returns where
    the CPU went, in seconds: this process (fetch, commit, MOVE), the parse workers, and the rest of the
    machine (Dovecot, the kernel's writeback, anything else running)."""
    app = _app(workdir, workers, [server.mailbox_config(user, "bench", batch_size=batch,  # type: ignore[attr-defined]
                                                        timeout_seconds=120)])
    try:
        warm_up = 0.0 if cold else _start_workers(app)
        pool_before = _pool_cpu(app)
        prof = cProfile.Profile() if profile else None
        busy, own = _machine_busy(), time.process_time()
        started = time.perf_counter()
        if prof:
            prof.enable()
        counts = app.mailboxes[0].take_once(app.intake)  # type: ignore[attr-defined]
        if prof:
            prof.disable()
        took = time.perf_counter() - started
        parsers = _pool_cpu(app) - pool_before
        cpu = {"committing": time.process_time() - own, "parsers": parsers}
        cpu["rest"] = max(_machine_busy() - busy - cpu["committing"] - parsers, 0.0)
        if prof and profile:
            prof.dump_stats(str(profile))
        started = time.perf_counter()
        sent = app.outbound.drain()  # type: ignore[attr-defined]
        send_took = time.perf_counter() - started
    finally:
        app.close()  # type: ignore[attr-defined]
    return took, dict(counts), sum(sent.values()) / send_took if send_took else 0.0, cpu, warm_up


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=200, help="messages per UID FETCH (both sides)")
    ap.add_argument("--workers", type=int, default=None,
                    help="intake.parse_workers for ingestd (default: the config default, auto)")
    ap.add_argument("--profile", type=Path, default=None, help="cProfile the last ingest run into this file")
    ap.add_argument("--no-record", action="store_true", help="print only; do not write results")
    ap.add_argument("--cold", action="store_true",
                    help="start the parse workers inside the timed runs, as a one-off command does (implies --no-record)")
    args = ap.parse_args()

    from loguru import logger

    from tests.servers.dovecot import running_dovecot

    logger.remove()
    logger.add(lambda m: print(m, end=""), level="WARNING")
    t0 = time.perf_counter()
    corpus = make_messages(args.n)
    size_mb = sum(map(len, corpus)) / 1e6
    print(f"generated {args.n} messages, {size_mb:.1f} MB, in {time.perf_counter() - t0:.1f} s")
    floors, rates, ceilings, sending, warm_ups, bare_floors = [], [], [], [], [], []
    cpu_ms: dict[str, list[float]] = {"committing": [], "parsers": [], "rest": []}
    with running_dovecot() as server:
        for run in range(args.runs):
            user = server.add_user()
            server.write_maildir(user, "INBOX", corpus)
            took, nbytes = floor_fetch(server, user, args.batch)
            floors.append(args.n / took)
            bare_floors.append(args.n / floor_fetch(server, user, args.batch, wire_trace=False)[0])
            workdir = Path(tempfile.mkdtemp(prefix="ingestd-imap-bench-"))
            try:
                profile = args.profile if run == args.runs - 1 else None
                e2e, counts, send_rate, cpu, warm_up = ingest_run(server, user, args.batch, args.workers, workdir / "imap",
                                                                  profile, cold=args.cold)
                sending.append(send_rate)
                warm_ups.append(warm_up)
                for part, seconds in cpu.items():
                    cpu_ms[part].append(1000 * seconds / args.n)
                ceilings.append(args.n / memory_run(corpus, args.workers, workdir / "memory", cold=args.cold))
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            taken = sum(counts.values())
            if taken != args.n or server.count(user, "INBOX") != 0:
                raise SystemExit(f"run {run + 1}: took {counts}, {server.count(user, 'INBOX')} left in INBOX")
            rates.append(args.n / e2e)
            print(f"run {run + 1}: floor {floors[-1]:,.0f} msg/s ({nbytes / took / 1e6:.0f} MB/s; "
                  f"{bare_floors[-1]:,.0f} msg/s without the wire trace), "
                  f"ingestd {rates[-1]:,.0f} msg/s ({e2e:.1f} s), pipeline alone {ceilings[-1]:,.0f} msg/s, "
                  f"then acknowledgements delivered at {send_rate:,.0f} msg/s, {counts}; CPU per message: "
                  + ", ".join(f"{part} {ms[-1]:.2f} ms" for part, ms in cpu_ms.items()))
    floor, value, ceiling = median(floors), median(rates), median(ceilings)
    ratio = value / floor
    bare_floor = median(bare_floors)
    cpu = {part: median(ms) for part, ms in cpu_ms.items()}
    cpu_total = sum(cpu.values())
    budget = 2 * 1000 / (0.3 * floor)  # CPU ms per message both cores could give at the target rate
    print(f"median: ingestd {value:,.0f} msg/s, floor {floor:,.0f} msg/s, ratio {ratio:.3f} (target ≥ 0.3); "
          f"pipeline alone {ceiling:,.0f} msg/s (IMAP e2e / pipeline alone: {value / ceiling:.2f}); "
          f"floor without the wire trace {bare_floor:,.0f} msg/s (ratio {value / bare_floor:.3f})")
    if args.profile:
        pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(25)
    if args.no_record or args.cold:
        return
    record("imap_intake", value, "msg/s", floor=floor, ratio=ratio, n=args.n, runs=args.runs, batch=args.batch,
           megabytes=round(size_mb, 1), floor_runs=[round(x, 1) for x in floors],
           runs_msg_s=[round(x, 1) for x in rates], pipeline_alone=round(ceiling, 1),
           pipeline_alone_runs=[round(x, 1) for x in ceilings], parse_workers=args.workers or "default",
           ack_delivery_msg_s=round(median(sending), 1), worker_warm_up_s=round(median(warm_ups), 2),
           floor_without_wire_trace=round(bare_floor, 1), floor_without_wire_trace_runs=[round(x, 1) for x in bare_floors],
           ratio_to_floor_without_wire_trace=round(value / bare_floor, 4),
           cpu_ms_per_msg={part: round(ms, 2) for part, ms in cpu.items()},
           target="ratio ≥ 0.3")
    update_section("IMAP intake", f"""
`.venv/bin/python -m bench.imap_bench --n {args.n} --runs {args.runs}` — {args.n:,} generated complaints
({size_mb:.1f} MB: Chinese in UTF-8/GB2312/GBK/GB18030/Big5 and some English; 15% with an HTML part,
15% with 1–3 attachments of 5–300 KB), loaded into a private Dovecot 2.3 (maildir, loopback, no TLS);
a fresh mailbox and a fresh SQLite register each run; median of {args.runs} runs; 2-core machine shared
with other work. As `ingestd run` does when it starts, the parse worker is started and warmed (imports, one
small message parsed) before the clock starts: the runs measure a running daemon. That start took
{median(warm_ups):.1f} s (median), once per daemon, and is in none of the figures below.

| measure | msg/s (median) | runs |
|---|---:|---|
| floor: imapclient `UID FETCH (BODY.PEEK[])`, {args.batch} per batch, read-only | {floor:,.0f} | {", ".join(f"{x:,.0f}" for x in floors)} |
| the same FETCH with imaplib's wire trace off, as ingestd's own connections have it | {bare_floor:,.0f} | {", ".join(f"{x:,.0f}" for x in bare_floors)} |
| ingestd: fetch → parse → thread → classify (routing, repeat complaints, deadlines) → record → acknowledgement queued in the outbox → MOVE | {value:,.0f} | {", ".join(f"{x:,.0f}" for x in rates)} |
| the pipeline alone: `Intake.take_many` over the same messages in memory, no IMAP | {ceiling:,.0f} | {", ".join(f"{x:,.0f}" for x in ceilings)} |
| afterwards, apart: the outbox delivering those acknowledgements (MIME built, `.eml` files) | {median(sending):,.0f} | {", ".join(f"{x:,.0f}" for x in sending)} |

Ratio to the floor {ratio:.2f} (target ≥ 0.3); IMAP end to end runs at {value / ceiling:.2f}× the pipeline alone.

The floor is imapclient as it ships, as the issue defines it (and as its "about 3,000 messages/s" describes).
Most of that floor's cost is not the transfer: imapclient sets imaplib's debug level to 5, and imaplib then
formats `repr()` of every fetched message for a debug record nobody reads. ingestd's connections turn that
off (`imap_conn.without_wire_trace`; it also kept complainants' mail out of a DEBUG log), and the same FETCH
then runs at {bare_floor:,.0f} msg/s: against that, ingestd's rate is a ratio of {value / bare_floor:.3f}. FETCH is
now a small part of ingestd's cost; the work per message after it is what bounds the rate.

Where the time goes, measured in the same runs (medians, CPU milliseconds per message, from /proc): the
committing process {cpu["committing"]:.2f} (IMAP FETCH and MOVE; thread, classify with routing, repeat lookup
and deadlines; record; the acknowledgement rendered from its templates and queued), the parse worker
{cpu["parsers"]:.2f} (MIME, charset repair, contacts, attachments to the blob store; the raw message itself goes
into the register with the case's rows), and the rest of the machine {cpu["rest"]:.2f} (Dovecot,
the kernel's writeback). That is {cpu_total:.2f} ms of CPU per message, and at {value:,.0f} msg/s the two
cores are {cpu_total * value / 1000:.2f} busy on average. Even with both fully busy, {cpu_total:.2f} ms per
message caps intake at {2000 / cpu_total:,.0f} msg/s (ratio {2000 / cpu_total / floor:.2f}); at the target rate
({0.3 * floor:,.0f} msg/s) both cores could give at most {budget:.2f} ms per message. {_what_it_needs(budget, cpu_total, ratio)}
""")


def _what_it_needs(budget: float, cpu_total: float, ratio: float) -> str:
    if ratio >= 0.3:
        return f"The target is met: the work per message is {cpu_total / budget:.0%} of that budget."
    if budget < cpu_total:
        return (f"Reaching it needs the work per message cut to about {budget / cpu_total:.0%} of what it is, "
                "and both cores kept busy.")
    return ("The work per message fits that budget in this run: what is missing is keeping both cores busy all "
            "the time.")


if __name__ == "__main__":
    main()
