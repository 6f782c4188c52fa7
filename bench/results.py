"""Recording benchmark figures: headline numbers into bench/results.json, so runs can be compared.

Each entry: name → {value, unit, floor, ratio, commit, date, ...extra}. A benchmark also writes its
table into bench/RESULTS.md by hand-kept section (see `update_section`).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS_JSON = BENCH / "results.json"
RESULTS_MD = BENCH / "RESULTS.md"


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BENCH, capture_output=True, text=True,
                              timeout=10).stdout.strip() or "uncommitted"
    except OSError:
        return "unknown"


def record(name: str, value: float, unit: str, *, floor: float | None = None, ratio: float | None = None,
           **extra: Any) -> dict[str, Any]:
    data = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
    entry = {"value": round(value, 4), "unit": unit, "floor": None if floor is None else round(floor, 4),
             "ratio": None if ratio is None else round(ratio, 4), "commit": commit(),
             "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), **extra}
    data[name] = entry
    RESULTS_JSON.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    return entry


def median(values: list[float]) -> float:
    return statistics.median(values)


def update_section(title: str, body: str) -> None:
    """Replace (or append) the `## title` section of bench/RESULTS.md with `body`."""
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmark results\n\nFigures from `bench/`, " \
        "each beside the floor it is compared to. Medians of several runs; this is a noisy 2-core machine.\n"
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    RESULTS_MD.write_text(text)
