"""Helpers shared by the fault-injection tests: what the register holds, what was logged, drop folders, and a
clock that can run minutes in seconds.

Every fault test asks the same questions afterwards (no input lost, none doubled, nothing valid parked in
quarantine), so they are answered here once, the same way for every fault.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import func, select

from ingestd.app import App
from ingestd.clock import Clock
from ingestd.store.models import Case, Message, QuarantineEntry


def case_count(app: App) -> int:
    with app.db.read() as session:
        return int(session.exec(select(func.count()).select_from(Case)).one())


def inbound_message_ids(app: App) -> Counter[str]:
    """How often each inbound Message-ID (without its angle brackets, as the register keeps it) is in the
    register: each should be there exactly once."""
    with app.db.read() as session:
        rows = session.exec(select(Message.message_id).where(Message.direction == "in")).all()
    return Counter(str(mid).strip("<>") for mid in rows)


def quarantined(app: App) -> list[QuarantineEntry]:
    with app.db.read() as session:
        return list(session.exec(select(QuarantineEntry)).all())


def assert_each_once(app: App, expected_ids: set[str]) -> None:
    """Every expected message is in the register exactly once, each on a case of its own, nothing parked."""
    seen = inbound_message_ids(app)
    expected_ids = {mid.strip("<>") for mid in expected_ids}
    missing = expected_ids - set(seen)
    doubled = {mid: n for mid, n in seen.items() if n > 1}
    assert not missing, f"{len(missing)} input(s) lost, e.g. {sorted(missing)[:3]}"
    assert not doubled, f"input(s) recorded twice: {doubled}"
    assert case_count(app) == len(expected_ids), "one case per complaint"
    assert quarantined(app) == [], "a valid input was parked in quarantine"


def errors_for(records: list[dict[str, Any]], source: str) -> list[str]:
    """ERROR lines logged for one source (`folder:drop`, `imap:desk/INBOX`, `outbox`)."""
    return [r["message"] for r in records if r["level"].name == "ERROR" and r["extra"].get("source") == source]


def drop_config(path: Path, *, poll_seconds: float = 0.2) -> dict[str, Any]:
    """A drop folder polled often and taken at once (no settling), so a test does not wait on it."""
    return {"name": "drop", "path": str(path), "poll_seconds": poll_seconds, "settle_seconds": 0}


def drop(folder: Path, messages: list[bytes], prefix: str) -> None:
    """Write complaints into a drop folder the way a producer should: a `.part` file, then a rename."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(messages):
        part = folder / f"{prefix}-{i:04d}.eml.part"
        part.write_bytes(data)
        part.rename(folder / f"{prefix}-{i:04d}.eml")


def waiting_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.eml") if p.is_file())


def break_after(app: App, outcomes: int, action: Callable[[], None]) -> threading.Event:
    """Run `action` (stop a server, say) once, from another thread, as soon as intake has handed its source
    `outcomes` committed inputs, and before it goes on: the fault lands in the middle of a pass, after a
    batch is committed (and settled by the source) and before the next one is. Returns an event set once
    `action` has run."""
    done = threading.Event()
    handed = [0]
    take_many = app.intake.take_many

    def wrapped(raws: Iterable[Any], **kwargs: Any) -> Iterator[Any]:
        for item in take_many(raws, **kwargs):
            yield item
            handed[0] += 1
            if handed[0] >= outcomes and not done.is_set():
                worker = threading.Thread(target=action, name="fault")
                worker.start()
                worker.join()
                done.set()

    app.intake.take_many = wrapped  # type: ignore[method-assign]
    return done


class ScaledClock(Clock):
    """Wall-clock time that can be made to run `speed` times faster, so minutes of backoff pass in seconds.

    It starts at real time and at real speed: the daemon schedules its first jobs at `clock.now()`, and
    APScheduler runs them on real time, so the clock must agree with it until the jobs are in place.
    Afterwards `set_speed(60)` makes every real second a minute for whatever asks the clock (the outbox's
    backoff, case times), while the daemon's jobs still fire every real interval."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._base = datetime.now(UTC)
        self._real = time.monotonic()
        self.speed = 1.0

    def now(self) -> datetime:
        with self._lock:
            return self._base + timedelta(seconds=(time.monotonic() - self._real) * self.speed)

    def set_speed(self, speed: float) -> None:
        with self._lock:
            real = time.monotonic()
            self._base += timedelta(seconds=(real - self._real) * self.speed)
            self._real = real
            self.speed = speed
