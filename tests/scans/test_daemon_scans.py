"""`ingestd run` with a scan folder, as a real process: it reads a letter while running, and on SIGTERM it stops
its OCR process too."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.scans.letters import text_pdf


def test_run_reads_a_letter_and_stops_its_ocr_process(tmp_path: Path) -> None:
    """Given `ingestd run` watching a scan folder, when a letter is dropped, then it is taken within seconds; and on
    SIGTERM the daemon exits 0 and leaves no OCR process behind."""
    scans = tmp_path / "scans"
    config = tmp_path / "ingestd.toml"
    config.write_text(f'[[scans]]\nname = "letters"\npath = "{scans}"\npoll_seconds = 0.5\nsettle_seconds = 0.5\n')
    proc = subprocess.Popen([sys.executable, "-m", "ingestd", "--config", str(config), "-v", "run"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not scans.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        (scans / "letter.pdf.part").write_bytes(text_pdf([["Complaint about the heating", "Phone: 13912345678",
                                                            "Yours sincerely,", "Grace Hughes", "9 April 2026"]]))
        os.replace(scans / "letter.pdf.part", scans / "letter.pdf")
        deadline = time.monotonic() + 90
        while not (scans / "processed" / "letter.pdf").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (scans / "processed" / "letter.pdf").exists()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-2000:]
        assert "created" in err and "stopped" in err
        pids = [int(p) for p in re.findall(r"OCR worker rapidocr started \(pid (\d+)\)", err)]
        assert pids, err[-2000:]
        for pid in pids:
            assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
