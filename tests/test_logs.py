"""Logs: masked personal data, a case number or source id on every line about an input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ingestd.logs import mask
from tests.mail import complaint


def test_mask_hides_emails_and_phones_but_not_dates_or_case_numbers() -> None:
    """Given text with an email, phones, a date and a case number, when masked, then only the personal data goes."""
    text = "from zhang.wei@example.com tel 13800138000 / +86 21 6123 4567 on 2026-11-02 case TS-202611-00001"
    masked = mask(text)
    assert "zhang.wei" not in masked and "13800138000" not in masked and "6123 4567" not in masked
    assert "z***@***" in masked and "8000" in masked
    assert "2026-11-02" in masked and "TS-202611-00001" in masked


def test_intake_logs_carry_case_numbers_and_no_personal_data(tmp_path: Path) -> None:
    """Given a complaint with the sender's email and phone, when ingested with JSON logs at debug level,
    then no line contains the address or the phone, and each line about the input names a case or source."""
    (tmp_path / "c.eml").write_bytes(complaint())
    (tmp_path / "junk.eml").write_bytes(b"\x00\x01\x02")
    proc = subprocess.run([sys.executable, "-m", "ingestd", "--log-json", "-v", "ingest", "c.eml", "junk.eml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line)["record"] for line in proc.stderr.splitlines() if line.startswith("{")]
    assert records, proc.stderr
    everything = proc.stderr + proc.stdout
    assert "zhang.wei@example.com" not in everything and "13800138000" not in everything
    about_inputs = [r for r in records if r["message"].startswith(("created", "quarantined", "threaded"))]
    assert len(about_inputs) == 2
    assert all(r["extra"].get("case") or r["extra"].get("source") for r in about_inputs)
