"""The `ingestd` command as a user runs it: a working directory, files under ./var. Most calls run the command
inside the test process (see `ingestd` below); the demo and a first delivery on a pipe run it as a real process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import inprocess
from tests.conftest import CORPORA, IN_CI, SAMPLES
from tests.mail import complaint

EXPORT_FIELDS = {"case_no", "channel", "status", "complainant", "subject", "description", "received_at",
                 "department", "category", "grade", "repeat_of", "flags", "messages", "attachments", "events"}


def ingestd(cwd: Path, *args: str, stdin: bytes | None = None, timeout: int = 300,
            process: bool = False) -> subprocess.CompletedProcess[str]:
    """`ingestd *args` in `cwd`, without INGESTD_CONFIG and with COLUMNS=200, output captured and decoded.

    In this test process by default (tests.inprocess: the same entry point, exit status and stdout/stderr, with
    the process-wide state a fresh process starts without), because a real process costs ~3 s to start here and
    the suite has a 10-minute budget. `process=True` starts a real `python -m ingestd`: for what only a process
    shows (start-up from scratch, a pipe on standard input, all output a user would see), kept for a few tests."""
    env = {k: v for k, v in os.environ.items() if k != "INGESTD_CONFIG"}
    env["COLUMNS"] = "200"
    if not process:
        return inprocess.run(cwd, args, env=env, stdin=stdin, timeout=timeout)
    proc = subprocess.run([sys.executable, "-m", "ingestd", *args], cwd=cwd, input=stdin, capture_output=True,
                          timeout=timeout, env=env)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


@pytest.fixture(scope="module")
def demo_register(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder after `ingestd demo`, made once for the tests that start from the demo's register: the demo takes
    ~10 s here (OCR of the sample letters, the monthly report's charts)."""
    folder = tmp_path_factory.mktemp("demo")
    made = ingestd(folder, "demo")
    assert made.returncode == 0, made.stderr
    return folder


@pytest.fixture
def demo_dir(demo_register: Path, tmp_path: Path) -> Path:
    """This test's own copy of the demo's folder (register, blobs, outbox): what one test changes, no other sees."""
    shutil.copytree(demo_register, tmp_path, dirs_exist_ok=True)
    return tmp_path


def test_demo_runs_on_a_fresh_directory_and_again_adds_nothing(tmp_path: Path) -> None:
    """Given an empty directory, when `ingestd demo` runs twice, then the first run opens cases from the
    bundled samples (one quarantined), prints the register table, and the second run creates nothing."""
    first = ingestd(tmp_path, "demo", process=True)  # what a new user runs first: a real process, from scratch
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "var" / "ingestd.db").exists()
    assert "case register" in first.stdout and "TS-" in first.stdout
    created = int(first.stdout.split("created: ")[1].split()[0])
    assert created >= 15
    assert "quarantined: 0" not in first.stdout  # the not-an-email sample is parked
    second = ingestd(tmp_path, "demo", process=True)
    assert "created: 0" in second.stdout and "threaded: 0" in second.stdout


def test_export_jsonl_has_the_promised_fields(demo_dir: Path) -> None:
    """Given the demo register, when exported as jsonl, then every line is a case with every promised field."""
    out = ingestd(demo_dir, "cases", "export", "--format", "jsonl")
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(lines) >= 15
    for case in lines:
        assert case.keys() >= EXPORT_FIELDS
        assert {"name", "email", "phone", "address"} <= case["complainant"].keys()
        assert case["messages"] and {"direction", "message_id", "in_reply_to", "subject", "from", "to", "date",
                                     "source"} <= case["messages"][0].keys()
        for att in case["attachments"]:
            assert {"filename", "content_type", "size", "sha256"} <= att.keys()
        assert {"at", "kind", "detail"} <= case["events"][0].keys()
    assert any(case["attachments"] for case in lines)
    assert any(len(case["messages"]) > 1 for case in lines)  # the reply joined its case


def test_cases_show_and_quarantine_commands(demo_dir: Path) -> None:
    """Given the demo register, when a person lists and shows cases and quarantine, then each command
    answers with the case or entry."""
    listed = ingestd(demo_dir, "cases", "list")
    first_case = next(w for w in listed.stdout.split() if w.startswith("TS-"))
    shown = ingestd(demo_dir, "cases", "show", first_case)
    assert shown.returncode == 0 and "history" in shown.stdout and "case.opened" in shown.stdout
    q = ingestd(demo_dir, "quarantine", "list")
    assert q.returncode == 0 and "quarantine (" in q.stdout
    entry = ingestd(demo_dir, "quarantine", "show", "1")
    assert "reason" in entry.stdout and "sha256" in entry.stdout
    assert ingestd(demo_dir, "cases", "show", "TS-000000-00000").returncode == 1


def test_deliver_reads_one_message_from_stdin(tmp_path: Path) -> None:
    """Given a message on standard input, when `ingestd deliver` runs twice, then it is one case."""
    data = complaint(message_id="<pipe@example.com>")
    first = ingestd(tmp_path, "deliver", stdin=data, process=True)  # as an MTA pipes it: a process, a real pipe
    second = ingestd(tmp_path, "deliver", stdin=data)
    assert first.returncode == 0 and first.stdout.startswith("created TS-")
    assert second.stdout.startswith("duplicate")


def test_deliver_exit_status_says_whether_the_message_was_stored(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Given closing the app fails after delivery, when a message is delivered, then the exit status still says
    stored (0); when storing fails as well, then it says try again later (75, the MTA keeps the message)."""
    from ingestd.app import App
    from ingestd.pipeline.runner import Intake

    def failing_close(self: App) -> None:
        raise RuntimeError("close failed")

    monkeypatch.setattr(App, "close", failing_close)
    stored = ingestd(tmp_path, "deliver", stdin=complaint(message_id="<close@example.com>"))
    assert stored.returncode == 0 and stored.stdout.startswith("created TS-"), stored.stderr

    def failing_take(self: Intake, raw: object, **_: object) -> None:
        raise RuntimeError("register down")

    monkeypatch.setattr(Intake, "take", failing_take)
    kept = ingestd(tmp_path, "deliver", stdin=complaint(message_id="<down@example.com>"))
    assert kept.returncode == 75, kept.stderr


def test_ingest_of_the_shared_corpora_is_complete_and_idempotent(tmp_path: Path) -> None:
    """Given every message under ../shared/corpora, when ingested, then each is a case or a quarantine
    entry (no crash, counts add up), and ingesting again adds nothing."""
    if not CORPORA.exists():
        if IN_CI:
            pytest.fail(f"CI=true but {CORPORA} is missing")
        pytest.skip(f"{CORPORA} not present")
    from ingestd.sources.files import count_inputs

    total = count_inputs([CORPORA])
    first = ingestd(tmp_path, "ingest", str(CORPORA), timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    counts = dict(part.split(": ") for part in first.stdout.strip().split("  ")[1:])
    assert int(first.stdout.split()[1]) == total
    assert sum(int(counts[k]) for k in ("created", "threaded", "quarantined", "duplicate")) == total
    assert int(counts["created"]) + int(counts["threaded"]) > total * 0.9  # fixtures share Message-IDs: threaded
    listed = ingestd(tmp_path, "quarantine", "list")
    assert " failed " not in listed.stdout, listed.stdout  # unreadable input is fine; a parser bug is not
    second = ingestd(tmp_path, "ingest", str(CORPORA), timeout=600)
    assert f"duplicate: {total}" in second.stdout, second.stdout


def test_a_25mb_attachment_goes_in_under_200mb_of_memory(tmp_path: Path) -> None:
    """Given a message with a 25 MB attachment, when delivered, then it is a case whose attachment has
    the right size, and the process's peak memory stayed under 200 MB."""
    payload = os.urandom(25 * 1024 * 1024)
    data = complaint(attachments=[("scan.bin", "application/octet-stream", payload)])
    (tmp_path / "big.eml").write_bytes(data)
    del payload, data
    code = (
        "import runpy, sys\n"
        "sys.argv = ['ingestd', 'ingest', 'big.eml']\n"
        "try:\n    runpy.run_module('ingestd', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        # VmHWM, not ru_maxrss: ru_maxrss survives exec and so counts this test's own 60 MB
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print('PEAK_KB', hwm, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert "created: 1" in proc.stdout, proc.stderr[-2000:]
    peak_mb = int(proc.stderr.split("PEAK_KB")[1].split()[0]) / 1024
    assert peak_mb < 200, f"peak {peak_mb:.0f} MB"
    export = ingestd(tmp_path, "cases", "export")
    case = json.loads(export.stdout.splitlines()[0])
    assert case["attachments"][0]["size"] == 25 * 1024 * 1024


def test_samples_folder_is_bundled() -> None:
    """Given the installed package, then the demo's sample messages are there."""
    assert len(list(SAMPLES.glob("*.eml"))) >= 20


def test_quarantine_retry_counts_an_attempt_and_keeps_bad_input_parked(demo_dir: Path) -> None:
    """Given the demo's not-an-email sample in quarantine (beside its bounce for a message ingestd never sent),
    when `quarantine retry ID` runs, then it is parked again with attempts 2 (nothing is lost or duplicated),
    and retrying nothing is refused."""
    listed = ingestd(demo_dir, "quarantine", "list")
    assert "quarantine (2)" in listed.stdout and "bounce for unknown message" in listed.stdout
    entry = next(line.split("│")[1].strip() for line in listed.stdout.splitlines() if "not-an-email" in line)
    retried = ingestd(demo_dir, "quarantine", "retry", entry)
    assert retried.returncode == 0 and retried.stdout.startswith(f"{entry}: quarantined")
    shown = ingestd(demo_dir, "quarantine", "show", entry)
    assert "attempts" in shown.stdout and " 2" in shown.stdout.split("attempts")[1].splitlines()[0]
    assert "quarantine (2)" in ingestd(demo_dir, "quarantine", "list").stdout
    assert ingestd(demo_dir, "quarantine", "retry").returncode == 2
