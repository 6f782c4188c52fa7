"""HTML with scripts in a complaint: stored as text, never rendered unescaped.

The attack: a complaint carrying `<script>`, `<img src=x onerror=...>` and `<a href="javascript:...">`, as
an HTML mail and as literal text in a plain mail's subject, sender name, body, demands and attachment names
(and in the text of a formal reply). What is checked: an HTML mail's case text keeps the words but no markup,
script or handler; text that merely looks like HTML is kept verbatim as text; and wherever it is shown as
HTML (the acknowledgement's HTML part, the printable letter, the monthly report) it is escaped: the page holds
no element or attribute the template did not write itself, and the complainant's markup is visible as text.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import update

from ingestd.app import App
from ingestd.reports.monthly import make_monthly
from ingestd.store.models import Case
from outbound.templates import BUNDLED
from parsers import parse_email
from tests.mail import complaint
from tests.outbound.conftest import get_case, take
from tests.servers.smtp import SmtpServer

SCRIPT = '<script>alert("xss")</script>'
IMG = "<img src=x onerror=alert(1)>"
LINK = '<a href="javascript:alert(2)">click me</a>'
MARKUP = f"{SCRIPT}{IMG}{LINK}"
NAME = 'Zhang" onmouseover="alert(5)'  # breaks out of an attribute, if a template ever puts the name in one


class Page(HTMLParser):
    """Every element, attribute and text node of an HTML page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((name, value or "") for name, value in attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def template_tags(*names: str) -> set[str]:
    """The elements the shipped templates write themselves."""
    found: set[str] = set()
    for name in names:
        found |= set(re.findall(r"<([a-z][a-z0-9]*)", (BUNDLED / name).read_text(encoding="utf-8")))
    return found


def assert_escaped(html: str, allowed_tags: set[str]) -> Page:
    """No element the template did not write, no event handler, no javascript: URL; the markup shows as text."""
    page = Page(html)
    assert set(page.tags) <= allowed_tags, set(page.tags) - allowed_tags
    assert "script" not in page.tags and "img" not in page.tags
    assert not [name for name, _ in page.attrs if name.startswith("on")], page.attrs
    assert not [value for _, value in page.attrs if "javascript:" in value.lower()], page.attrs
    return page


def encoded(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


def markup_complaint(*, english: bool = False, message_id: str = "<markup-1@example.com>") -> bytes:
    """A plain-text complaint whose subject, sender name, text, demands and attachment name hold markup."""
    body = (f"I bought a kettle and it broke. {MARKUP}\nI want a refund {SCRIPT} now.\n" if english else
            f"我的订单 SF1234567890 延误十天。{MARKUP}\n要求退款并赔偿{SCRIPT}。\n")
    return complaint(subject=("Complaint " if english else "投诉 ") + MARKUP, body=body, message_id=message_id,
                     sender=f"{encoded(NAME)} <zhang.wei@example.com>",
                     attachments=[(f"{IMG}.jpg", "image/jpeg", b"\xff\xd8\xff fake")])


def html_mail(message_id: str = "<html-1@example.com>") -> bytes:
    return (f"From: Zhang Wei <zhang.wei@example.com>\r\nTo: complaints@ingestd.example\r\nSubject: parcel\r\n"
            f"Date: Mon, 02 Nov 2026 09:30:00 +0000\r\nMessage-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/html; charset=utf-8\r\n\r\n"
            f"<html><head><script>alert('head')</script><style>p{{}}</style></head><body>"
            f"<p>Parcel damaged.</p>{SCRIPT}<p>{IMG}I want a refund.</p><p>{LINK}</p>"
            "<iframe src=\"javascript:alert(3)\"></iframe><svg onload=alert(4)></svg></body></html>\r\n").encode()


# -- moved from tests/parsers/test_mime.py and tests/outbound/test_replies_and_templates.py -------------------------
def test_html_only_becomes_text_without_scripts() -> None:
    """Given an HTML-only message with a script, when parsed, then the text has paragraphs and no script."""
    raw = (b"From: Test <t@example.com>\r\nTo: desk@ingestd.example\r\nSubject: s\r\nMessage-ID: <m@x>\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           b"<html><head><script>alert('x')</script><style>p{}</style></head>"
           b"<body><p>Parcel damaged.</p><p>I want a refund.</p></body></html>")
    parsed = parse_email(raw)
    assert parsed.body_text == "Parcel damaged.\n\nI want a refund."
    assert "alert" not in parsed.body_text


def test_html_templates_escape_what_complainants_write(make_outbound_app: Callable[..., App], sqlite_url: str,
                                                       smtp: SmtpServer) -> None:
    """Given a complaint whose subject holds HTML, when acknowledged, then the HTML part shows it as text."""
    app = make_outbound_app(sqlite_url, smtp)
    take(app, complaint(subject='投诉 <script>alert("x")</script>'))
    app.outbound.drain()
    html = smtp.to("zhang.wei@example.com")[0].message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


# -- new -------------------------------------------------------------------------------------------------------
def test_an_html_mail_is_stored_as_text_without_markup(make_outbound_app: Callable[..., App],
                                                       sqlite_url: str) -> None:
    """Given an HTML-only complaint with scripts, an event handler, javascript: links, an iframe and an SVG
    onload, when taken, then the case's description and full text keep the words and none of the markup."""
    app = make_outbound_app(sqlite_url, None)
    outcome = take(app, html_mail())
    case = get_case(app, outcome.case_no)
    for text in (case.description, case.full_text):
        assert "Parcel damaged." in text and "I want a refund." in text and "click me" in text
        for bad in ("<", "script", "alert", "onerror", "onload", "javascript:", "iframe"):
            assert bad not in text, (bad, text)


def test_markup_in_a_plain_complaint_is_kept_as_text_and_escaped_in_the_acknowledgement(
        make_outbound_app: Callable[..., App], sqlite_url: str, smtp: SmtpServer) -> None:
    """Given a plain-text complaint whose subject, sender name, text, demands and attachment name hold a script,
    an onerror image and a javascript: link, when taken and acknowledged, then the case keeps the text verbatim
    (it is what the complainant wrote), and the acknowledgement's HTML part has only the template's own
    elements, no handler and no javascript: URL, with the markup visible as text."""
    app = make_outbound_app(sqlite_url, smtp)
    outcome = take(app, markup_complaint())
    case = get_case(app, outcome.case_no)
    assert MARKUP in case.subject and SCRIPT in case.description and "onmouseover" in (case.complainant_name or "")
    assert SCRIPT in case.demands
    app.outbound.drain()
    (ack,) = smtp.to("zhang.wei@example.com")
    html = ack.message.get_body(("html",)).get_content()
    page = assert_escaped(html, template_tags("zh/ack.html"))
    shown = "".join(page.text)
    assert SCRIPT in shown and IMG in shown and LINK in shown  # escaped, so the reader sees what was written


@pytest.mark.parametrize("english", [False, True], ids=["zh", "en"])
def test_markup_is_escaped_in_the_printable_letter(make_outbound_app: Callable[..., App], sqlite_url: str,
                                                   monkeypatch: pytest.MonkeyPatch, english: bool) -> None:
    """Given a case whose name, address and subject hold markup, when a formal reply whose text holds markup too
    (a department's `#reply` is mail) is printed as a letter, then the letter's HTML (what WeasyPrint renders)
    has only the template's own elements, no handler and no javascript: URL."""
    import outbound.replies

    pages: list[str] = []

    def capture(html: str, *, base_url: Path | None = None) -> bytes:
        pages.append(html)
        return b"%PDF-1.4 captured"

    monkeypatch.setattr(outbound.replies, "render_pdf", capture)
    app = make_outbound_app(sqlite_url, None, acknowledge=False, notify_departments=False)
    outcome = take(app, markup_complaint(english=english))
    with app.db.write() as session:
        session.execute(update(Case).where(Case.case_no == outcome.case_no)  # type: ignore[arg-type]
                        .values(complainant_address=f"上海市 {SCRIPT} 路 1 号"))
    result = app.outbound.reply(outcome.case_no, f"We checked.\n\n{MARKUP}\nRegards", letter=True)
    assert result.letter is not None and result.letter.read_bytes() == b"%PDF-1.4 captured"
    (html,) = pages
    page = assert_escaped(html, template_tags(f"{'en' if english else 'zh'}/letter.html"))
    shown = "".join(page.text)
    assert SCRIPT in shown and IMG in shown and LINK in shown


def test_markup_never_reaches_the_monthly_report_unescaped(make_outbound_app: Callable[..., App],
                                                           sqlite_url: str, tmp_path: Path) -> None:
    """Given cases opened from markup-laden complaints (HTML and plain), one of them with markup in its category
    and department as well (a mistyped or hostile routing file, or a reroute), when this month's report is
    written, then its HTML (tables and inline SVG charts) has no script element, no handler and no javascript:
    URL, the complaints' own text is not in it at all, and the category and department show as text."""
    app = make_outbound_app(sqlite_url, None, acknowledge=False, notify_departments=False)
    take(app, html_mail())
    take(app, markup_complaint(message_id="<markup-2@example.com>"))
    marked = take(app, markup_complaint(english=True, message_id="<markup-3@example.com>"))
    with app.db.write() as session:
        session.execute(update(Case).where(Case.case_no == marked.case_no)  # type: ignore[arg-type]
                        .values(category=IMG, department=SCRIPT))
    _, paths = make_monthly(app, "2026-11", out_dir=tmp_path / "reports", pdf=False)
    page_html = (tmp_path / "reports" / "report-2026-11.html").read_text(encoding="utf-8")
    page = Page(page_html)
    assert "script" not in page.tags and "img" not in page.tags and "a" not in page.tags
    assert not [name for name, _ in page.attrs if name.startswith("on")]
    assert not [value for _, value in page.attrs if "javascript:" in value.lower()]
    assert "kettle" not in page_html and "SF1234567890" not in page_html and "Parcel damaged" not in page_html
    shown = "".join(page.text)
    assert SCRIPT in shown and IMG in shown  # the category and department, as text (table and chart labels)
    for csv_path in paths:
        if csv_path.suffix == ".csv":
            assert "kettle" not in csv_path.read_text(encoding="utf-8-sig")
