"""Fuzzing the whole intake: N damaged messages (from ../shared/corpora and the project's samples) through
receive → parse → thread → classify → record → respond, into a fresh SQLite register.

    .venv/bin/python -m bench.fuzz_bench [--n 100000] [--seed 1] [--no-record]

A crash is any exception that escapes intake, or an input parked as kind "failed" (the runner catches a stage's
unexpected exception and parks the input with its traceback: that is a bug, even though nothing is lost).
Quarantine as "unreadable" is allowed. Writes `fuzz_inputs` {value, crashes} to bench/results.json and the
"Fuzzing" section of bench/RESULTS.md. Each crash's input is saved under bench/fuzz-crashes/ for a regression
test.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlmodel import select

from bench.results import record, update_section
from ingestd.app import build_app
from ingestd.config import LoadedConfig
from ingestd.config.model import Settings
from ingestd.pipeline.items import RawInput
from ingestd.samples.damage import damage
from ingestd.store.models import QuarantineEntry

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"


def seeds() -> list[bytes]:
    files = sorted((ROOT / "ingestd" / "samples" / "mail").glob("*.eml"))
    if CORPORA.is_dir():
        files += sorted(p for p in CORPORA.rglob("*") if p.is_file() and p.stat().st_size < 2_000_000
                        and p.suffix.lower() not in (".md", ".txt", ".json", ".py"))
    return [p.read_bytes() for p in files]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    from loguru import logger

    logger.remove()  # 100,000 "created" lines would cost more than the intake
    logger.add(lambda m: print(m, end=""), level="ERROR")
    rng = random.Random(args.seed)
    pool = seeds()
    crashes_dir = ROOT / "bench" / "fuzz-crashes"
    outcomes: Counter[str] = Counter()
    escaped = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.model_validate({
            "store": {"database_url": f"sqlite:///{tmp}/fuzz.db", "data_dir": tmp},
            "routing": {"file": str(ROOT / "config" / "routing.toml")},
            "outbound": {"outbox_dir": f"{tmp}/outbox", "templates_dir": str(ROOT / "config" / "templates")}})
        app = build_app(LoadedConfig(settings, None))
        try:
            done = 0
            while done < args.n:
                size = min(args.batch, args.n - done)
                inputs = [damage(rng.choice(pool), rng) for _ in range(size)]
                raws = [RawInput(data=d, source="fuzz", source_ref=f"{done + i}") for i, d in enumerate(inputs)]
                try:
                    for _raw, outcome in app.intake.take_many(iter(raws)):
                        outcomes[outcome.status] += 1
                except Exception as exc:  # escaped intake: save the batch
                    escaped += 1
                    crashes_dir.mkdir(exist_ok=True)
                    for i, data in enumerate(inputs):
                        (crashes_dir / f"escaped-{done + i}.eml").write_bytes(data)
                    print(f"escaped at {done}: {type(exc).__name__}: {exc}")
                done += size
                if done % 10_000 == 0:
                    print(f"{done} inputs, {time.perf_counter() - started:.0f} s: {dict(outcomes)}", flush=True)
            with app.db.read() as session:
                failed = session.exec(select(QuarantineEntry).where(QuarantineEntry.kind == "failed")).all()
                for entry in failed[:50]:
                    crashes_dir.mkdir(exist_ok=True)
                    (crashes_dir / f"failed-{entry.id}.eml").write_bytes(app.blobs.read(entry.raw_sha256))
                    (crashes_dir / f"failed-{entry.id}.txt").write_text(entry.traceback or entry.reason)
                reasons = Counter(e.reason.split(":")[0] for e in failed)
        finally:
            app.close()
    seconds = time.perf_counter() - started
    crashes = escaped + len(failed)
    print(f"{args.n} inputs from {len(pool)} seeds in {seconds:.0f} s ({args.n / seconds:.0f}/s): "
          f"{dict(outcomes)}; crashes: {crashes} (escaped batches {escaped}, failed {len(failed)}: {dict(reasons)})")
    if args.no_record:
        return
    record("fuzz_inputs", args.n, "inputs", floor=None, ratio=None, crashes=crashes, seconds=round(seconds))
    update_section("Fuzzing", "\n".join([
        "`.venv/bin/python -m bench.fuzz_bench` — damaged copies (flips, NULs, encoded-word fragments, cut",
        "boundaries, truncation, duplicated runs; `ingestd/samples/damage.py`) of the project's samples and",
        f"../shared/corpora ({len(pool)} seeds), seed {args.seed}, through the whole intake into SQLite.",
        "",
        "| inputs | crashes | outcomes | seconds |",
        "|---:|---:|---|---:|",
        f"| {args.n} | {crashes} | {', '.join(f'{k} {v}' for k, v in sorted(outcomes.items()))} | {seconds:.0f} |",
        "",
        "A crash: an exception escaping intake, or an input parked as `failed` (a stage's unexpected exception).",
    ]))


if __name__ == "__main__":
    main()
