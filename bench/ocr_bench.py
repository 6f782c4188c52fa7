"""OCR benchmark: the generated scanned letters through each engine, in the real OCR worker process.

    .venv/bin/python -m bench.ocr_bench [--count 30] [--engines rapidocr,tesseract]

Measures, per engine: character error rate against the text the letters were rendered from (NFKC, whitespace
removed, Levenshtein distance / reference length), exact-match rate of the phone, the letter's date and the
event date as the letter-field extractor reads them, seconds per page (median, inside the worker), and the
OCR process's peak memory (its whole process group: Tesseract runs as a child).
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import unicodedata
from pathlib import Path
from typing import Any

from rapidfuzz.distance import Levenshtein

from bench.results import record, update_section
from ingestd.sources.ocr_worker import OcrWorker, WorkerOptions
from parsers.letter import extract_fields, letter_lines
from tests.scans.letters import Sample, benchmark_set

TARGETS = {"cer": 0.01, "fields": 0.98, "seconds": 2.0}


def norm(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


class PeakMemory:
    """Samples the resident memory of a process group (the OCR worker and its children) every 0.1 s."""

    def __init__(self, pgid: int) -> None:
        self.pgid, self.peak, self._stop = pgid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            total = 0
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                    if int(fields[2]) == self.pgid:  # pgrp
                        total += int(fields[21]) * 4096  # rss pages
                except (OSError, IndexError, ValueError):
                    continue
            self.peak = max(self.peak, total)


def run_engine(engine: str, samples: list[Sample]) -> dict[str, Any]:
    worker = OcrWorker(WorkerOptions(engine=engine, page_timeout=120, start_timeout=300))
    started = time.perf_counter()
    worker.start()
    start_seconds = time.perf_counter() - started
    per_page, cpu_page, rows = [], [], []
    assert worker.pid is not None
    with PeakMemory(worker.pid) as memory:
        for sample in samples:
            ocr = worker.read(sample.data)
            if ocr.get("error"):
                raise RuntimeError(f"letter {sample.letter.seed}: {ocr['error']}")
            pages = ocr["pages"]
            per_page += [p["seconds"] for p in pages if "seconds" in p]
            cpu_page += [p["cpu_seconds"] for p in pages if "cpu_seconds" in p]
            text = "\n".join(p.get("text", "") for p in pages)
            ref, hyp = norm(sample.letter.text), norm(text)
            fields = extract_fields(letter_lines(ocr))
            got = {k: fields[k].value if k in fields else None for k in ("phone", "letter_date", "event_date", "name")}
            rows.append({"seed": sample.letter.seed, "lang": sample.letter.lang, "fmt": sample.fmt, "pages": len(pages),
                         "errors": Levenshtein.distance(ref, hyp), "chars": len(ref),
                         "phone": got["phone"] == sample.letter.phone,
                         "letter_date": got["letter_date"] == sample.letter.letter_date,
                         "event_date": got["event_date"] == sample.letter.event_date,
                         "name": got["name"] == sample.letter.name, "got": got,
                         "confidence": min((p.get("confidence", 0) for p in pages), default=0)})
    worker.stop()

    def cer(lang: str | None = None) -> float:
        chosen = [r for r in rows if lang is None or r["lang"] == lang]
        return sum(r["errors"] for r in chosen) / max(sum(r["chars"] for r in chosen), 1)

    n = len(rows)
    return {
        "engine": engine, "letters": n, "pages": sum(r["pages"] for r in rows), "cer": cer(), "cer_zh": cer("zh"),
        "cer_en": cer("en"), "phone": sum(r["phone"] for r in rows) / n,
        "letter_date": sum(r["letter_date"] for r in rows) / n, "event_date": sum(r["event_date"] for r in rows) / n,
        "name": sum(r["name"] for r in rows) / n,
        "fields": sum(r["phone"] and r["letter_date"] and r["event_date"] for r in rows) / n,
        "seconds_per_page": statistics.median(per_page), "cpu_per_page": statistics.median(cpu_page),
        "seconds_p90": sorted(per_page)[int(0.9 * (len(per_page) - 1))],
        "peak_mb": memory.peak / 2**20, "start_seconds": start_seconds,
        "misses": [{k: r[k] for k in ("seed", "lang", "fmt", "got")} for r in rows
                   if not (r["phone"] and r["letter_date"] and r["event_date"])],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=30, help="letters (a few have two pages)")
    parser.add_argument("--engines", default="rapidocr,tesseract")
    parser.add_argument("--no-record", action="store_true", help="print only; leave bench/results.* alone")
    args = parser.parse_args()
    samples = benchmark_set(args.count)
    results = {}
    load_before = os.getloadavg()[0]
    for engine in args.engines.split(","):
        print(f"{engine}: {len(samples)} letters ...", flush=True)
        res = results[engine] = run_engine(engine, samples)
        print(f"  CER {res['cer']:.2%} (zh {res['cer_zh']:.2%}, en {res['cer_en']:.2%}); phone {res['phone']:.0%}, "
              f"letter date {res['letter_date']:.0%}, event date {res['event_date']:.0%}, name {res['name']:.0%}; "
              f"{res['seconds_per_page']:.2f} s/page (p90 {res['seconds_p90']:.2f}, CPU {res['cpu_per_page']:.2f} s); "
              f"peak {res['peak_mb']:.0f} MB; "
              f"start {res['start_seconds']:.1f} s", flush=True)
        for miss in res["misses"]:
            print(f"  miss: {miss}")
    if args.no_record:
        return
    for engine, res in results.items():
        prefix = "" if engine == "rapidocr" else f"{engine}_"
        extra = {"engine": engine, "letters": res["letters"], "pages": res["pages"]}
        record(f"{prefix}ocr_cer", res["cer"], "ratio", floor=TARGETS["cer"], target="≤ 1% (rapidocr)",
               cer_zh=round(res["cer_zh"], 4), cer_en=round(res["cer_en"], 4), **extra)
        record(f"{prefix}ocr_seconds_per_page", res["seconds_per_page"], "s/page", floor=TARGETS["seconds"],
               target="≤ 2 s/page median (rapidocr)", p90=round(res["seconds_p90"], 2),
               cpu_seconds_per_page=round(res["cpu_per_page"], 2),
               peak_mb=round(res["peak_mb"]), **extra)
        record(f"{prefix}ocr_fields_exact", res["fields"], "ratio", floor=TARGETS["fields"],
               target="phone and dates exact in ≥ 98% of letters (rapidocr)", phone=round(res["phone"], 4),
               letter_date=round(res["letter_date"], 4), event_date=round(res["event_date"], 4),
               name_exact=round(res["name"], 4), **extra)
    rows = "\n".join(
        f"| {e} | {r['cer']:.2%} ({r['cer_zh']:.2%} / {r['cer_en']:.2%}) | {r['phone']:.0%} | {r['letter_date']:.0%} / "
        f"{r['event_date']:.0%} | {r['name']:.0%} | {r['seconds_per_page']:.2f} (p90 {r['seconds_p90']:.2f}) | "
        f"{r['cpu_per_page']:.2f} | "
        f"{r['peak_mb']:,.0f} MB |" for e, r in results.items())
    first = next(iter(results.values()))
    load = f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    update_section("OCR", f"""
`.venv/bin/python -m bench.ocr_bench` — {first['letters']} generated scanned complaint letters ({first['pages']} pages;
{sum(1 for s in samples if s.letter.lang == 'zh')} Chinese, {sum(1 for s in samples if s.letter.lang == 'en')} English;
JPEG, PNG, deflate TIFF, bilevel G4 TIFF, image-only PDF; 200–300 dpi; tilt ±2°, blur, noise, specks, grey paper,
faded toner; seeded, see `tests/scans/letters.py`), each read by the OCR worker process as the daemon runs it.
CER: Levenshtein distance over the rendered text, NFKC, whitespace removed. Fields: what `parsers.letter` reads
from the OCR output, compared with the letter's own facts. Seconds: per page inside the worker (decode, upright
check, OCR, line grouping), median; CPU s/page: the worker's CPU time per page (all threads), which the load
from other work does not inflate. Memory: peak resident size of the worker's process group. 2-core machine
shared with other work while measured.

| engine | CER (zh / en) | phone | letter / event date | name | s/page median | CPU s/page | peak memory |
|---|---|---:|---:|---:|---:|---:|---:|
{rows}

Targets (default engine, rapidocr): CER ≤ 1%, phone and dates exact in ≥ 98% of letters, ≤ 2 s/page.
Load average while measured (other work on the machine): {load}.
Headlines in results.json: `ocr_cer`, `ocr_seconds_per_page`, `ocr_fields_exact` (all three of phone, letter
date and event date exact) and the same with `tesseract_`.
""")


if __name__ == "__main__":
    main()
