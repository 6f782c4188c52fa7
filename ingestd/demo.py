"""`ingestd demo`: the bundled sample complaints, through the real pipeline, into ./var.

No servers needed. Running it again adds nothing (intake is idempotent) and shows the same register.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlmodel import select

from ingestd import logs
from ingestd.app import build_app
from ingestd.cli.cases import cases_table, list_rows
from ingestd.cli.context import state
from ingestd.config import LoadedConfig
from ingestd.sources.files import read_inputs
from ingestd.store.models import QuarantineEntry

SAMPLES = Path(__file__).parent / "samples" / "mail"
EXAMPLE_ROUTING = Path(__file__).resolve().parents[1] / "config" / "routing.toml"


def run_demo(console: Console) -> None:
    loaded = state.config()
    if state.log_level is None:  # the table is the demo's output; per-input log lines only with -v
        logs.setup("WARNING", json_lines=state.log_json)
    if loaded.settings.routing.file is None and EXAMPLE_ROUTING.exists():  # no config here: use the example
        routing = loaded.settings.routing.model_copy(update={"file": EXAMPLE_ROUTING})
        loaded = LoadedConfig(loaded.settings.model_copy(update={"routing": routing}), loaded.path)
    application = build_app(loaded)
    settings = application.settings
    console.print(f"[bold]ingestd demo[/bold]: {len(list(SAMPLES.glob('*.eml')))} sample messages from {SAMPLES}")
    console.print(f"register: {settings.store.database_url}   files: {settings.store.data_dir}/\n")
    counts: Counter[str] = Counter()
    try:
        for _raw, outcome in application.intake.take_many(read_inputs([SAMPLES], source="demo")):
            counts[outcome.status] += 1
        with application.db.read() as session:
            console.print(cases_table(list_rows(session), title="case register"))
            parked = session.exec(select(QuarantineEntry).where(QuarantineEntry.status == "parked")).all()
        if parked:
            table = Table(title="quarantine")
            for col in ("id", "source", "stage", "reason"):
                table.add_column(col, overflow="fold", max_width=60)
            for e in parked:
                table.add_row(str(e.id), Path(e.source_ref).name, e.stage, e.reason)
            console.print(table)
    finally:
        application.close()
    summary = "  ".join(f"{k}: {counts.get(k, 0)}" for k in ("created", "threaded", "duplicate", "quarantined"))
    console.print(f"\nthis run: {summary}")
    console.print("next: [bold]ingestd cases show CASE_NO[/bold], [bold]ingestd quarantine list[/bold], "
                  "[bold]ingestd cases export --format jsonl[/bold]")
