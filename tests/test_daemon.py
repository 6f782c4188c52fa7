"""`ingestd run` as a real process: it takes dropped files while running and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ingestd.app import App
from tests.mail import complaint
from tests.servers.dovecot import captured_logs, running_daemon, wait_until


def test_run_takes_a_dropped_file_and_stops_on_sigterm(tmp_path: Path) -> None:
    """Given `ingestd run` watching a drop folder, when a complaint is dropped (written as .part, then
    renamed), then it is taken within a few seconds; and on SIGTERM the process exits 0 within 10 s."""
    drop = tmp_path / "drop"
    config = tmp_path / "ingestd.toml"
    config.write_text(f'[[sources.folders]]\nname = "drop"\npath = "{drop}"\npoll_seconds = 0.5\nsettle_seconds = 0.5\n')
    proc = subprocess.Popen([sys.executable, "-m", "ingestd", "--config", str(config), "run"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not drop.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        (drop / "c.eml.part").write_bytes(complaint())
        os.replace(drop / "c.eml.part", drop / "c.eml")
        deadline = time.monotonic() + 20
        while not (drop / "processed" / "c.eml").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (drop / "processed" / "c.eml").exists()
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err[-2000:]
        assert time.monotonic() - started < 10
        assert "created" in err and "stopped" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_scheduled_job_that_returns_a_flag_is_not_logged_as_failed() -> None:
    """Given the routing reload job, which returns True when new rules took effect, and a poll that returns its
    counts, when the daemon's job wrapper runs them, then the reload logs no failure and the poll its counts."""
    from collections import Counter

    from loguru import logger

    from ingestd.daemon import _guarded

    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG", format="{level} {message}")
    try:
        _guarded("routing", lambda: True)()
        _guarded("drop", lambda: Counter(created=2))()
    finally:
        logger.remove(sink)
    assert not [line for line in lines if line.startswith("ERROR")], lines
    assert any("pass: {'created': 2}" in line for line in lines), lines


@pytest.mark.parametrize(("with_source", "expect_pool"), [(True, True), (False, False)])
def test_parse_workers_start_with_the_daemon_only_where_there_is_something_to_parse(
        make_app: Callable[..., App], sqlite_url: str, tmp_path: Path, with_source: bool, expect_pool: bool) -> None:
    """Given a daemon with a drop folder, when it has started, then its parse workers are running (started
    ahead); given one with no source at all (it only sends, reminds and reports), then none are started."""
    sources = {"folders": [{"name": "drop", "path": str(tmp_path / "drop"), "settle_seconds": 0}]} if with_source else {}
    app = make_app(sqlite_url, sources=sources, intake={"parse_workers": 2})
    with captured_logs("INFO") as records, running_daemon(app):
        assert wait_until(lambda: any("ingestd running as worker" in r["message"] for r in records), 20)
        assert (app.intake._pool is not None) is expect_pool
