"""Scanned letters through a scan folder and the real OCR (a few small pages in all: OCR is slow on 2 cores)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from ingestd.app import App
from ingestd.daemon import run_once
from ingestd.store.models import Attachment, Case, QuarantineEntry
from tests.conftest import need
from tests.scans.letters import cjk_font, encode, make_letter, scan, text_pdf


def drop(folder: Path, name: str, data: bytes, *, age: float = 60) -> Path:
    """Put a file in the scan folder as if it had been copied there `age` seconds ago."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def scan_app(make_app: Callable[..., App], db_url: str, folder: Path, **options: Any) -> App:
    return make_app(db_url, scans=[{"name": "letters", "path": str(folder), "settle_seconds": 2, **options}])


def cases(app: App) -> list[Case]:
    with app.db.read() as session:
        return list(session.exec(select(Case).order_by(Case.id)))


def attachments(app: App, case: Case) -> list[Attachment]:
    with app.db.read() as session:
        return list(session.exec(select(Attachment).where(Attachment.case_id == case.id)))


def squash(text: str) -> str:
    return "".join(text.split())


@pytest.fixture
def fonts() -> None:
    need(cjk_font() is not None, "no CJK font installed (apt-get install fonts-noto-cjk)")


def test_chinese_letter_becomes_a_letter_case(fonts: None, make_app: Callable[..., App], sqlite_url: str,
                                              tmp_path: Path) -> None:
    """Given a scanned Chinese letter (PNG) in the scan folder, when the daemon makes a pass, then a case with
    channel letter holds the writer's name, phone and the letter's text, the scan as its attachment, the flag
    written, the letter's fields with confidences, and the file is in processed/."""
    letter = make_letter(21, "zh")
    folder = tmp_path / "scans"
    drop(folder, "letter.png", encode(scan(letter, dpi=200), "png"))
    app = scan_app(make_app, sqlite_url, folder)
    assert run_once(app) == {"created": 1}
    (case,) = cases(app)
    assert case.channel == "letter" and "written" in case.flags and "needs_review" not in case.flags
    assert case.complainant_name == letter.name and case.complainant_phone == letter.phone
    assert case.subject == letter.title and case.language == "zh"
    assert letter.order_no in squash(case.description) and "此致" in case.full_text
    assert case.fields["letter"]["fields"]["order_numbers"]["value"] == [letter.order_no]
    fields = case.fields["letter"]["fields"]
    assert fields["letter_date"]["value"] == letter.letter_date and fields["event_date"]["value"] == letter.event_date
    assert fields["phone"]["confidence"] > 0.85
    assert case.fields["letter"]["ocr"]["pages"][0]["method"] == "ocr"
    (att,) = attachments(app, case)
    assert att.content_type == "image/png" and att.size == (folder / "processed" / "letter.png").stat().st_size
    assert not (folder / "letter.png").exists()


def test_upside_down_scan_is_read_upright(fonts: None, make_app: Callable[..., App], sqlite_url: str,
                                          tmp_path: Path) -> None:
    """Given an English letter scanned upside down (JPEG, turned 180°), when read, then the page is turned and its
    lines come in reading order: title first, signature and date last."""
    letter = make_letter(22, "en")
    folder = tmp_path / "scans"
    drop(folder, "upside-down.jpg", encode(scan(letter, dpi=200, turn=180), "jpeg", quality=80))
    app = scan_app(make_app, sqlite_url, folder)
    assert run_once(app) == {"created": 1}
    (case,) = cases(app)
    assert case.fields["letter"]["ocr"]["pages"][0]["rotation"] == 180
    lines = case.full_text.splitlines()
    assert lines[0] == letter.title and squash(lines[-1]) == squash(letter.lines[-1])
    assert case.complainant_name == letter.name and case.complainant_phone == letter.phone


def test_multipage_tiff_and_pdf(fonts: None, make_app: Callable[..., App], sqlite_url: str, tmp_path: Path) -> None:
    """Given a two-page letter as a multi-page TIFF and another as an image-only PDF, when read, then each is one case
    whose text runs over both pages and whose signature (on page two) gives the name."""
    folder = tmp_path / "scans"
    letters = {"two-pages.tiff": make_letter(23, "zh", pages=2), "two-pages.pdf": make_letter(24, "zh", pages=2)}
    for name, letter in letters.items():
        pages = scan(letter, dpi=150)
        assert len(pages) == 2
        drop(folder, name, encode(pages, "tiff" if name.endswith("tiff") else "pdf", dpi=150))
    app = scan_app(make_app, sqlite_url, folder)
    assert run_once(app) == {"created": 2}
    for case in cases(app):
        assert case.fields["letter"]["ocr"]["page_count"] == 2
        assert [p["n"] for p in case.fields["letter"]["ocr"]["pages"]] == [1, 2]
        assert "[第2页 / page 2]" in case.full_text
        letter = next(v for v in letters.values() if v.name == case.complainant_name)
        assert case.complainant_phone == letter.phone
        assert squash(letter.lines[-1]) in squash(case.full_text)


def test_pdf_text_layer_needs_no_ocr(make_app: Callable[..., App], db_url: str, tmp_path: Path) -> None:
    """Given a PDF that carries a text layer (a scanner's searchable PDF), when taken, then its text is used as is
    (no OCR: confidence 1, method text-layer), on SQLite and on PostgreSQL."""
    folder = tmp_path / "scans"
    drop(folder, "searchable.pdf", text_pdf([[
        "Complaint about late delivery", "Dear Sir or Madam,", "My parcel ordered on 2 March 2026 never arrived.",
        "Order No.: SF2026030201", "Phone: 139 0011 2233", "Yours sincerely,", "Helen Parker", "15 March 2026"]]))
    app = scan_app(make_app, db_url, folder)
    started = time.monotonic()
    assert run_once(app) == {"created": 1}
    assert time.monotonic() - started < 60
    (case,) = cases(app)
    page = case.fields["letter"]["ocr"]["pages"][0]
    assert page["method"] == "text-layer" and page["confidence"] == 1.0
    assert case.complainant_name == "Helen Parker" and case.complainant_phone == "+8613900112233"
    assert case.fields["letter"]["fields"]["order_numbers"]["value"] == ["SF2026030201"]
    assert case.fields["letter"]["fields"]["letter_date"]["value"] == "2026-03-15"
    assert case.channel == "letter" and case.flags == ["written"]


def test_poor_scan_needs_review(fonts: None, make_app: Callable[..., App], sqlite_url: str, tmp_path: Path) -> None:
    """Given a badly blurred, noisy, low-resolution scan, when read, then the case is opened but flagged needs_review,
    with the reason, and the doubtful fields are not put on the complainant as if they were sure."""
    letter = make_letter(11, "zh")
    folder = tmp_path / "scans"
    drop(folder, "poor.jpg", encode(scan(letter, dpi=150, blur=2.0, noise=30), "jpeg", quality=30))
    app = scan_app(make_app, sqlite_url, folder)
    assert run_once(app) == {"created": 1}
    (case,) = cases(app)
    assert {"written", "needs_review"} <= set(case.flags)
    review = case.fields["letter"]["review"]
    assert any("OCR confidence" in r for r in review)
    assert case.fields["letter"]["ocr"]["confidence"] < 0.85
    if case.complainant_name is not None:  # only a name read with confidence may stand on the case
        assert case.fields["letter"]["fields"]["name"]["confidence"] >= 0.85


def test_tesseract_engine(make_app: Callable[..., App], sqlite_url: str, tmp_path: Path, fonts: None) -> None:
    """Given the scan folder set to Tesseract, when an English letter is read, then the case has its phone and text."""
    need(shutil.which("tesseract") is not None, "tesseract not installed (apt-get install tesseract-ocr "
                                                "tesseract-ocr-chi-sim)")
    letter = make_letter(25, "en")
    folder = tmp_path / "scans"
    drop(folder, "letter.png", encode(scan(letter, dpi=300, blur=0.3, noise=4), "png"))
    app = scan_app(make_app, sqlite_url, folder, engine="tesseract")
    assert run_once(app) == {"created": 1}
    (case,) = cases(app)
    assert case.fields["letter"]["ocr"]["engine"] == "tesseract"
    assert case.complainant_phone == letter.phone
    assert letter.order_no in case.description


def test_unchanged_letter_twice_is_one_case(make_app: Callable[..., App], sqlite_url: str, tmp_path: Path) -> None:
    """Given a letter already recorded, when the same file is dropped again, then no second case and no second OCR:
    the copy is a duplicate and moves to processed/."""
    folder = tmp_path / "scans"
    data = text_pdf([["Complaint about noise", "Phone: 13912345678", "Yours sincerely,", "Alice Green", "1 May 2026"]])
    drop(folder, "a.pdf", data)
    app = scan_app(make_app, sqlite_url, folder)
    assert run_once(app) == {"created": 1}
    drop(folder, "a-copy.pdf", data)
    assert run_once(app) == {"duplicate": 1}
    assert sorted(p.name for p in (folder / "processed").iterdir()) == ["a-copy.pdf", "a.pdf"]
    with app.db.read() as session:
        assert session.exec(select(QuarantineEntry)).first() is None
