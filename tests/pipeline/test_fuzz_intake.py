"""Property: whatever damaged mail arrives, intake ends it as a case or in quarantine as unreadable; it never
raises, and never parks an input as "failed" (a stage's unexpected exception: a bug). The longer run with
100,000 inputs is `bench/fuzz_bench.py`."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from ingestd.app import App
from ingestd.pipeline.items import RawInput
from ingestd.samples.damage import damage
from ingestd.store.models import QuarantineEntry

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [p.read_bytes() for p in sorted((ROOT / "ingestd" / "samples" / "mail").glob("*.eml"))]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), rng=st.randoms(use_true_random=False))
def test_damaged_mail_ends_as_a_case_or_unreadable(make_app: Callable[..., App], sqlite_url: str, seed: bytes,
                                                  rng: random.Random) -> None:
    app = _app(make_app, sqlite_url)
    outcome = app.intake.take(RawInput(data=damage(seed, rng), source="fuzz"))
    assert outcome.status in ("created", "threaded", "duplicate", "quarantined")
    with app.db.read() as session:
        failed = session.exec(select(QuarantineEntry).where(QuarantineEntry.kind == "failed")).all()
    assert failed == [], failed[0].traceback


_apps: dict[str, App] = {}


def _app(make_app: Callable[..., App], url: str) -> App:
    """One register for all examples of a run (building an app per example would dominate the time)."""
    if url not in _apps:
        _apps.clear()
        _apps[url] = make_app(url, routing={"file": str(ROOT / "config" / "routing.toml")})
    return _apps[url]
