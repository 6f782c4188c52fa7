"""Bad scans and a misbehaving OCR process: every file ends as a case or in quarantine, and the daemon goes on."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from sqlmodel import select

from ingestd.app import App
from ingestd.daemon import run_once
from ingestd.store.models import QuarantineEntry
from tests.scans.letters import bomb_png, corrupt_pdf, encrypted_pdf, text_pdf
from tests.scans.test_scan_folder import cases, drop, scan_app


def parked(app: App) -> dict[str, QuarantineEntry]:
    with app.db.read() as session:
        return {e.source_ref: e for e in session.exec(select(QuarantineEntry))}


def letter_pages(count: int) -> list[list[str]]:
    pages = [[f"Page {n} of the complaint about the broken lift at 12 Century Avenue, Shanghai.",
              "The lift has not worked since 3 March 2026 and nobody came to repair it."] for n in range(1, count + 1)]
    pages[0] = ["Complaint about the lift", "Phone: 13912345678", *pages[0]]
    pages[-1] = [*pages[-1], "Yours sincerely,", "Thomas Turner", "20 March 2026"]
    return pages


def test_unreadable_files_are_quarantined_with_the_reason(make_app: Callable[..., App], sqlite_url: str,
                                                          tmp_path: Path) -> None:
    """Given a corrupt PDF, a password-protected PDF, a 0-byte file, a decompression-bomb PNG and a Word file in the
    scan folder, when the daemon makes a pass, then each is in quarantine saying why, and in failed/."""
    folder = tmp_path / "scans"
    drop(folder, "corrupt.pdf", corrupt_pdf())
    drop(folder, "locked.pdf", encrypted_pdf())
    drop(folder, "empty.jpg", b"")
    drop(folder, "bomb.png", bomb_png(20000, 20000))
    drop(folder, "letter.docx", b"PK\x03\x04" + b"\x00" * 200)
    app = scan_app(make_app, sqlite_url, folder)
    assert run_once(app) == {"quarantined": 5}
    reasons = {name: e.reason for name, e in parked(app).items()}
    assert "damaged PDF" in reasons["corrupt.pdf"]
    assert reasons["locked.pdf"] == "PDF is password-protected"
    assert "0 bytes" in reasons["empty.jpg"]
    assert "decompression bomb" in reasons["bomb.png"] and "20000×20000" in reasons["bomb.png"]
    assert reasons["letter.docx"] == "not a PDF, TIFF, JPEG or PNG file"
    assert sorted(p.name for p in (folder / "failed").iterdir()) == sorted(reasons)
    assert cases(app) == []


def test_hundred_page_pdf_reads_up_to_the_page_limit(make_app: Callable[..., App], sqlite_url: str,
                                                     tmp_path: Path) -> None:
    """Given a 100-page PDF and a page limit of 20, when taken, then the case holds the first 20 pages, notes that
    pages 21-100 were not read, and needs review."""
    folder = tmp_path / "scans"
    drop(folder, "long.pdf", text_pdf(letter_pages(100)))
    app = scan_app(make_app, sqlite_url, folder, page_limit=20)
    assert run_once(app) == {"created": 1}
    (case,) = cases(app)
    ocr = case.fields["letter"]["ocr"]
    assert (ocr["page_count"], ocr["pages_read"], ocr["pages_not_read"]) == (100, 20, "21-100")
    assert len(ocr["pages"]) == 20 and "Page 20 of" in case.full_text and "Page 21 of" not in case.full_text
    assert "needs_review" in case.flags
    assert any("only 20 of 100 pages" in r for r in case.fields["letter"]["review"])


def test_file_still_being_copied_waits(make_app: Callable[..., App], sqlite_url: str, tmp_path: Path) -> None:
    """Given a scan that changed a moment ago and another still named .part, when the daemon makes a pass, then
    neither is taken; once the copy is finished and has settled, it is."""
    folder = tmp_path / "scans"
    data = text_pdf(letter_pages(1))
    copying = drop(folder, "arriving.pdf", data[: len(data) // 2], age=0)
    drop(folder, "other.pdf.part", data, age=60)
    app = scan_app(make_app, sqlite_url, folder, settle_seconds=30)
    assert run_once(app) == {}
    copying.write_bytes(data)
    then = time.time() - 31
    os.utime(copying, (then, then))
    assert run_once(app) == {"created": 1}
    assert (folder / "processed" / "arriving.pdf").read_bytes() == data
    assert (folder / "other.pdf.part").exists()


def test_ocr_hang_is_killed_and_the_rest_is_read(make_app: Callable[..., App], sqlite_url: str,
                                                 tmp_path: Path) -> None:
    """Given an OCR process that hangs on page 2 of 3, when the page time limit passes, then the process is killed
    and restarted, page 2 is noted as not read, pages 1 and 3 are on the case, and the case needs review."""
    folder = tmp_path / "scans"
    drop(folder, "three.pdf", text_pdf(letter_pages(3)))
    app = scan_app(make_app, sqlite_url, folder, page_timeout_seconds=2)
    (source,) = app.scans
    source.worker.test_faults = {"_stall_page": 2}
    source.start()
    first_pid = source.worker.pid
    assert run_once(app) == {"created": 1}
    (case,) = cases(app)
    pages = case.fields["letter"]["ocr"]["pages"]
    assert [p["n"] for p in pages] == [1, 2, 3]
    assert "timed out on page 2 after 2 s" in pages[1]["error"]
    assert "Page 1 of" in case.full_text and "Page 3 of" in case.full_text and "Page 2 of" not in case.full_text
    assert "needs_review" in case.flags
    assert source.worker.restarts == 1 and source.worker.pid != first_pid


def test_ocr_crash_costs_one_page(make_app: Callable[..., App], sqlite_url: str, tmp_path: Path) -> None:
    """Given an OCR process that crashes (SIGSEGV) on page 1 of 2, when read, then page 1 is noted as not read,
    page 2 is on the case, and the next letter is read by the restarted process."""
    folder = tmp_path / "scans"
    drop(folder, "a.pdf", text_pdf(letter_pages(2)))
    app = scan_app(make_app, sqlite_url, folder)
    (source,) = app.scans
    source.worker.test_faults = {"_crash_page": 1}
    assert run_once(app) == {"created": 1}
    (case,) = cases(app)
    pages = case.fields["letter"]["ocr"]["pages"]
    assert "died on page 1" in pages[0]["error"] and "Page 2 of" in case.full_text
    source.worker.test_faults = {}
    drop(folder, "b.pdf", text_pdf([["Complaint about parking", "Phone: 13812345678", "Yours sincerely,",
                                     "Emma Collins", "2 May 2026"]]))
    assert run_once(app) == {"created": 1}
    assert cases(app)[-1].complainant_name == "Emma Collins"


def test_ocr_that_cannot_start_leaves_the_files(make_app: Callable[..., App], sqlite_url: str,
                                                tmp_path: Path) -> None:
    """Given an OCR process that does not start in time (an outage, not a bad scan), when the daemon makes a pass,
    then the scan stays in the folder for the next pass: no case, no quarantine."""
    folder = tmp_path / "scans"
    drop(folder, "a.pdf", text_pdf(letter_pages(1)))
    app = scan_app(make_app, sqlite_url, folder, start_timeout_seconds=0.01)
    assert run_once(app) == {}
    assert (folder / "a.pdf").exists() and parked(app) == {} and cases(app) == []


def test_quarantined_letter_is_read_again_on_retry(make_app: Callable[..., App], sqlite_url: str,
                                                   tmp_path: Path) -> None:
    """Given a one-page letter parked because the OCR process died on its only page, when `quarantine retry`
    takes it again, then it is read by OCR again (not taken as an e-mail) and becomes a letter case."""
    from ingestd.cli.quarantine import retry_entry

    folder = tmp_path / "scans"
    drop(folder, "a.pdf", text_pdf(letter_pages(1)))
    app = scan_app(make_app, sqlite_url, folder)
    (source,) = app.scans
    source.worker.test_faults = {"_crash_page": 1}
    assert run_once(app) == {"quarantined": 1}
    (entry,) = parked(app).values()
    assert entry.source == "scan:" + source.scan_config.name
    outcome = retry_entry(app, entry)
    assert outcome.status == "created", outcome.reason
    (case,) = cases(app)
    assert case.channel == "letter" and case.complainant_name == "Thomas Turner"
    assert parked(app)["a.pdf"].status == "released"
