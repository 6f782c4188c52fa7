"""Monthly statistics: a register filled with generated cases across three months gives known figures; the
files agree with each other, carry no personal data, and the page renders with its charts in a real browser."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingestd.app import App
from ingestd.clock import FakeClock
from ingestd.reports.monthly import make_monthly, scheduled
from ingestd.reports.render import tables
from ingestd.store.models import Case, CaseEvent
from tests.conftest import need

SH = ZoneInfo("Asia/Shanghai")
DEPARTMENTS = ["logistics", "billing", "quality"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def add_case(app: App, n: int, *, received: datetime, department: str, grade: str, channel: str = "email",
             category: str = "delivery", answered_after_h: float | None = None, replied_after_h: float | None = None,
             status: str = "open", repeat: bool = False, rule: str = "delivery",
             visit: bool | None = None) -> None:
    """A case as intake and casework would leave it, with personal data that must never reach a report."""
    due = {"ack_due": received + timedelta(hours=24), "answer_due": received + timedelta(days=2),
           "resolve_due": received + timedelta(days=5)}
    with app.db.write() as session:
        case = Case(case_no=f"TS-{received:%Y%m}-{n:05d}", channel=channel, status=status, subject=f"投诉 {n}",
                    description="…", complainant_name=f"张{n}", complainant_email=f"person{n}@example.com",
                    complainant_phone=f"+86138000{n:05d}", received_at=received, created_at=received,
                    updated_at=received, department=department, category=category, grade=grade,
                    flags=["repeat"] if repeat else [], rule_hits=[{"rule": rule}], acknowledged_at=received,
                    answered_at=received + timedelta(hours=answered_after_h) if answered_after_h is not None else None,
                    replied_at=received + timedelta(hours=replied_after_h) if replied_after_h is not None else None,
                    **due)
        session.add(case)
        session.flush()
        if visit is not None:
            session.add(CaseEvent(case_id=case.id, at=received + timedelta(days=1), kind="case.visited",
                                  actor="desk", detail={"satisfied": visit}))


def fill(app: App) -> None:
    """October 2026: 10 cases; September: 4; October 2025: 2. Received on Mondays 10:00 local."""
    october = at("2026-10-12 10:00")
    for i in range(10):
        add_case(app, i + 1, received=october + timedelta(minutes=i), department=DEPARTMENTS[i % 3],
                 grade="重大" if i < 2 else "一般", channel="letter" if i == 9 else "email",
                 category="delivery" if i < 6 else "billing",
                 answered_after_h=[5, 30, 70, None, 8, 9, 10, 11, 12, 13][i],  # 70 h and None: late
                 replied_after_h=[8, 50, None, None, 26, 27, 28, 29, 200, 30][i],
                 status="replied" if i not in (2, 3) else "open", repeat=i in (4, 5), rule="r-a" if i < 7 else "r-b",
                 visit=None if i > 4 else i != 1)
    for i in range(4):
        add_case(app, 100 + i, received=at("2026-09-14 10:00") + timedelta(minutes=i), department="logistics",
                 grade="一般", answered_after_h=5, replied_after_h=20, status="replied")
    for i in range(2):
        add_case(app, 200 + i, received=at("2025-10-13 10:00") + timedelta(minutes=i), department="billing",
                 grade="轻微", answered_after_h=60, replied_after_h=20, status="replied")


@pytest.fixture
def report_app(make_app: Callable[..., App], sqlite_url: str) -> App:
    app = make_app(sqlite_url, clock=FakeClock(at("2026-12-01 08:00")))
    fill(app)
    return app


def test_known_figures_for_october(report_app: App, tmp_path: Path) -> None:
    """Given the generated register, when October's report is made, then its counts, timeliness, handling
    time, overdue list, repeat rate, satisfaction and rules are the ones the cases were built with, each beside
    September and October 2025."""
    report, _ = make_monthly(report_app, "2026-10", out_dir=tmp_path)
    cur = report.current
    assert cur.total == 10 and cur.by_department == {"logistics": 4, "billing": 3, "quality": 3}
    assert cur.by_grade == {"重大": 2, "一般": 8} and cur.by_channel == {"email": 9, "letter": 1}
    assert (cur.first_answer.on_time, cur.first_answer.late, cur.first_answer.pending) == (8, 2, 0)
    assert (cur.resolve.on_time, cur.resolve.late) == (7, 3)  # 200 h is past the 5 days; two never replied
    # working hours (09:00-18:00) from Monday 12 October 10:0i to the reply: +8 h is 18:0i that day (8 less i
    # minutes, plus i minutes... = 8.0); +26 h is Tuesday 12:0i (11.0); +50 h Wednesday 12:01 (20.0); +200 h is
    # Tuesday 20 October 18:08, after closing: 7.87 + 4 × 9 + 9 + 9 = 61.87
    assert sorted(cur.handling_hours) == [8.0, 11.0, 12.0, 13.0, 14.0, 15.0, 20.0, 61.87]
    assert cur.median_hours == 13.5 and cur.p90_hours == 61.87  # p90 by nearest rank: the 8th of 8
    assert cur.repeat_rate == 0.2 and cur.visits == {"satisfied": 4, "unsatisfied": 1}
    assert cur.rules == {"r-a": 7, "r-b": 3}
    overdue = {(row["case_no"], row["deadline"]) for row in cur.overdue}
    assert overdue == {("TS-202610-00003", "resolve"), ("TS-202610-00004", "first_answer"),
                       ("TS-202610-00004", "resolve")}
    assert report.previous is not None and report.previous.total == 4
    assert report.year_ago is not None and report.year_ago.total == 2
    summary = {row[0]: row[1:] for row in tables(report)["summary"][1:]}
    assert summary["complaints"] == [10, 4, 2]
    assert summary["first answer in time"] == ["80.0%", "100.0%", "0.0%"]


class Tables(HTMLParser):
    """Each table of the page by id: its rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id", "")[len("table-"):]
            self.found[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.found[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.found[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_csv_and_html_agree_and_hold_no_personal_data(report_app: App, tmp_path: Path) -> None:
    """Given October's report files, then every CSV equals its HTML table (so the totals agree), the count
    tables' totals are the month's total, and no complainant name, e-mail or phone appears anywhere."""
    _, paths = make_monthly(report_app, "2026-10", out_dir=tmp_path)
    page = (tmp_path / "report-2026-10.html").read_text(encoding="utf-8")
    parser = Tables()
    parser.feed(page)
    for path in paths:
        if path.suffix != ".csv":
            continue
        name = path.stem.split("-", 2)[2]
        rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
        assert rows == parser.found[name], name
        if name.startswith("by_"):
            assert rows[-1][:2] == ["total", "10"]
    assert page.count("<svg") == 3
    everything = page + "".join(p.read_text(encoding="utf-8-sig") for p in paths if p.suffix == ".csv")
    assert not re.search(r"person\d+@example\.com|\+86138000|张\d", everything)


def test_the_page_renders_with_its_charts_in_chromium(report_app: App, tmp_path: Path) -> None:
    """Given the HTML report, when a headless Chromium opens it, then it logs no page error, its DOM has the three
    charts, and the screenshot of the first chart is not blank."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    need(browser is not None, "chromium not installed (apt-get install chromium)")
    from PIL import Image, ImageStat

    make_monthly(report_app, "2026-10", out_dir=tmp_path)
    url = (tmp_path / "report-2026-10.html").as_uri()
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir="
             + str(tmp_path / "profile"), "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<svg") == 3 and 'id="chart-timeliness"' in dom.stdout
    assert not [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    shot = tmp_path / "page.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,1400", url], capture_output=True,
                   timeout=120, check=True)
    image = Image.open(shot).convert("L")
    chart = image.crop((0, 300, 1200, 1100))  # below the title and the summary table: the department chart
    assert ImageStat.Stat(chart).stddev[0] > 10  # bars, axes and labels, not an empty page


def test_scheduled_run_mails_last_months_report_once(make_app: Callable[..., App], sqlite_url: str,
                                                     tmp_path: Path) -> None:
    """Given recipients in config, when the scheduled job runs on 1 December (twice, as after a restart), then
    November's report is written and mailed once to each recipient, with the HTML attached."""
    app = make_app(sqlite_url, clock=FakeClock(at("2026-12-01 08:00")),
                   reports={"recipients": ["manager@org.example"], "out_dir": str(tmp_path / "r")})
    add_case(app, 1, received=at("2026-11-09 10:00"), department="billing", grade="一般", answered_after_h=2,
             replied_after_h=20, status="replied")
    scheduled(app)
    scheduled(app)
    assert (tmp_path / "r" / "report-2026-11.html").exists()
    sent = sorted((tmp_path / "var" / "outbox").glob("*report*.eml"))
    assert len(sent) == 1
    body = sent[0].read_bytes()
    assert b"To: manager@org.example" in body and b"report-2026-11.html" in body
