"""A monthly report as files: one self-contained HTML page (tables and inline SVG charts), a CSV per table, and
optionally a PDF of the page. Charts are matplotlib SVG with text kept as text, so the browser draws Chinese
labels with its own fonts and the file stays small."""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ingestd.casework.calendar import WorkCalendar
from ingestd.reports import data
from ingestd.reports.figures import MonthFigures, month_bounds, month_figures, shift_month
from ingestd.store.atomic import write_atomic
from ingestd.store.db import Database

COUNT_TABLES = (("channel", "by_channel"), ("category", "by_category"), ("grade", "by_grade"),
                ("department", "by_department"), ("status", "by_status"))


@dataclass(slots=True)
class Report:
    month: str
    generated_at: datetime
    current: MonthFigures
    previous: MonthFigures | None  # None: no complaints that month (nothing to compare with)
    year_ago: MonthFigures | None


def build_report(db: Database, calendar: WorkCalendar, month: str, now: datetime) -> Report:
    def figures(which: str) -> MonthFigures:
        start, end = month_bounds(which, calendar)
        with db.read() as session:
            cases = data.received_between(session, start, end)
            visits = data.visits_between(session, start, end)
        return month_figures(which, cases, visits, calendar, as_of=min(now, end))

    previous, year_ago = figures(shift_month(month, -1)), figures(shift_month(month, -12))
    return Report(month, now, figures(month), previous if previous.total else None,
                  year_ago if year_ago.total else None)


# -- tables ----------------------------------------------------------------------------------------------
def tables(report: Report) -> dict[str, list[list[Any]]]:
    """Every table of the report, header row first; the same rows go to the HTML and to the CSV files."""
    cur, prev, ago = report.current, report.previous, report.year_ago
    found: dict[str, list[list[Any]]] = {}
    summary = [["figure", report.month, "previous month", "same month last year"]]
    for name, value in cur.headline().items():
        summary.append([name, _cell(*value), _cell(*prev.headline()[name]) if prev else "",
                        _cell(*ago.headline()[name]) if ago else ""])
    found["summary"] = summary
    for label, attr in COUNT_TABLES:
        counts: Counter[str] = getattr(cur, attr)
        before: Counter[str] = getattr(prev, attr) if prev else Counter()
        rows: list[list[Any]] = [[label, "complaints", "previous month"]]
        for key in sorted(set(counts) | set(before), key=lambda k: (-counts[k], k)):
            rows.append([key, counts[key], before[key] if prev else ""])
        rows.append(["total", sum(counts.values()), sum(before.values()) if prev else ""])
        found[f"by_{label}"] = rows
    found["timeliness"] = [["deadline", "on time", "late", "pending", "share on time"]] + [
        [name, t.on_time, t.late, t.pending, _cell(t.share, "share")]
        for name, t in (("acknowledge", cur.acknowledge), ("first answer", cur.first_answer),
                        ("resolve", cur.resolve))]
    found["overdue"] = [["case", "department", "deadline", "due", "overdue (working h)"]] + [
        [row["case_no"], row["department"], row["deadline"], row["due"], row["overdue_hours"]] for row in cur.overdue]
    found["rules"] = [["rule", "fired"]] + [[rule, n] for rule, n in cur.rules.most_common(15)]
    found["return_visits"] = [["result", "visits"], ["satisfied", cur.visits["satisfied"]],
                              ["unsatisfied", cur.visits["unsatisfied"]],
                              ["total", cur.visits["satisfied"] + cur.visits["unsatisfied"]]]
    return found


def _cell(value: float | int | None, unit: str = "n") -> str | int:
    if value is None:
        return "–"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "hours":
        return f"{value:.1f}"
    return value


# -- charts ----------------------------------------------------------------------------------------------
def charts(report: Report) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # a missing CJK font is not news
    plt.rcParams.update({"svg.fonttype": "none", "font.size": 10,  # text stays text: the browser's fonts draw it
                         "font.family": ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "DejaVu Sans"]})
    cur, prev, ago = report.current, report.previous, report.year_ago
    found: dict[str, str] = {}

    departments = sorted(set(cur.by_department) | set(prev.by_department if prev else ()),
                         key=lambda k: -cur.by_department[k])
    fig, ax = plt.subplots(figsize=(7, 0.45 * max(3, len(departments)) + 1))
    positions = range(len(departments))
    ax.barh([p + 0.2 for p in positions], [cur.by_department[d] for d in departments], height=0.4, label=cur.month)
    if prev:
        ax.barh([p - 0.2 for p in positions], [prev.by_department[d] for d in departments], height=0.4,
                label=prev.month, alpha=0.6)
    ax.set_yticks(list(positions), departments)
    ax.invert_yaxis()
    ax.set_xlabel("complaints")
    ax.set_title("Complaints by department")
    ax.legend()
    found["departments"] = _svg(fig)

    categories = [k for k, _ in cur.by_category.most_common(12)]
    fig, ax = plt.subplots(figsize=(7, 0.45 * max(3, len(categories)) + 1))
    ax.barh(categories, [cur.by_category[c] for c in categories], color="#4c72b0")
    ax.invert_yaxis()
    ax.set_title("Complaints by category")
    found["categories"] = _svg(fig)

    names = ["acknowledge", "first answer", "resolve"]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    series = [(cur.month, cur)] + ([(prev.month, prev)] if prev else []) + ([(ago.month, ago)] if ago else [])
    width = 0.8 / len(series)
    for i, (label, figures) in enumerate(series):
        shares = [(t.share or 0) * 100 for t in (figures.acknowledge, figures.first_answer, figures.resolve)]
        ax.bar([p + i * width for p in range(3)], shares, width=width, label=label)
    ax.set_xticks([p + width * (len(series) - 1) / 2 for p in range(3)], names)
    ax.set_ylim(0, 100)
    ax.set_ylabel("% within deadline")
    ax.set_title("Timeliness")
    ax.legend()
    found["timeliness"] = _svg(fig)
    return found


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.tight_layout()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # inline: without the XML declaration and doctype


# -- files -----------------------------------------------------------------------------------------------
def html(report: Report) -> str:
    env = Environment(loader=PackageLoader("ingestd.reports", "templates"), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    from markupsafe import Markup

    svgs = {name: Markup(svg) for name, svg in charts(report).items()}  # our own matplotlib output
    return env.get_template("monthly.html").render(report=report, tables=tables(report), charts=svgs)


def write_report(report: Report, out_dir: Path, *, pdf: bool = False) -> list[Path]:
    """report-MONTH.html, MONTH-TABLE.csv for each table, and report-MONTH.pdf when asked."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    page = html(report)
    target = out_dir / f"report-{report.month}.html"
    write_atomic(target, page.encode("utf-8"))
    written.append(target)
    for name, rows in tables(report).items():
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        path = out_dir / f"{report.month}-{name}.csv"
        write_atomic(path, ("\ufeff" + buffer.getvalue()).encode("utf-8"))  # BOM: Excel opens Chinese text right
        written.append(path)
    if pdf:
        from weasyprint import HTML

        path = out_dir / f"report-{report.month}.pdf"
        write_atomic(path, HTML(string=page).write_pdf())
        written.append(path)
    return written
