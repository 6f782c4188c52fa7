"""The CLI tests run `ingestd` inside the test process (tests.inprocess): it must answer as a real process does,
and leave the test process as it found it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from loguru import logger

from tests.conftest import SAMPLES
from tests.test_cli import ingestd

_LOG_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def _inbox(folder: Path) -> Path:
    """A complaint, a Chinese one with personal data (masked in the log), and a file that is not an e-mail."""
    folder.mkdir()
    inbox = folder / "in"
    inbox.mkdir()
    for name in ("01-delivery-delay-zh.eml", "04-billing-double-charge.eml", "24-not-an-email.eml"):
        shutil.copy(SAMPLES / name, inbox / name)
    return folder


def _seen(run: subprocess.CompletedProcess[str], folder: Path) -> tuple[int, str, str]:
    """What a test can assert on, without the times of log lines and the working directory's name."""
    def clean(text: str) -> str:
        return _LOG_TIME.sub("<time>", text).replace(str(folder), "<cwd>")

    return run.returncode, clean(run.stdout), clean(run.stderr)


def test_a_command_in_this_process_answers_as_the_real_process_does(tmp_path: Path) -> None:
    """Given the same inputs in two folders, when `ingestd ingest` runs as a process in one and in this process
    in the other, then exit status, standard output and the log lines on standard error are the same (times
    apart); and so is a usage error's exit status 2 and message."""
    real, here = _inbox(tmp_path / "real"), _inbox(tmp_path / "here")
    by_process = ingestd(real, "ingest", "in", process=True)
    in_process = ingestd(here, "ingest", "in")
    assert by_process.returncode == 0 and "quarantined" in by_process.stderr, by_process.stderr
    assert _seen(in_process, here) == _seen(by_process, real)
    usage = [ingestd(folder, "ingest", "in", "--workers", "many", process=process)
             for folder, process in ((real, True), (here, False))]
    assert usage[0].returncode == 2 and "'--workers'" in usage[0].stderr
    assert _seen(usage[1], here) == _seen(usage[0], real)


def test_a_command_in_this_process_leaves_it_as_it_was(tmp_path: Path) -> None:
    """Given a sink the test added to loguru, when a command that sets up its own logging (and removes every sink)
    runs in this process, then the test's sink still gets the test's records and none of the command's; the
    working directory and the environment are as before; the command saw its own working directory."""
    _inbox(tmp_path / "here")
    cwd, environ = os.getcwd(), dict(os.environ)
    records: list[str] = []
    sink = logger.add(lambda message: records.append(message.record["message"]), level="DEBUG")
    try:
        run = ingestd(tmp_path / "here", "ingest", "in")
        logger.info("the test logs on")
    finally:
        logger.remove(sink)
    assert run.returncode == 0 and "created" in run.stderr, run.stderr
    assert (tmp_path / "here" / "var" / "ingestd.db").exists()
    assert records == ["the test logs on"]
    assert os.getcwd() == cwd and dict(os.environ) == environ
