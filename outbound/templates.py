"""Message and letter templates: Jinja2, sandboxed, strict, one folder per language.

`config/templates/{zh,en}/` holds, per language:

    ack.subject.txt  ack.txt  ack.html        acknowledgement to the complainant
    notify.subject.txt  notify.txt            a routed case, to the department's inbox
    reply.subject.txt  reply.txt              a formal reply by e-mail
    letter.html                               a formal reply as a printed letter (PDF)

Templates are edited by admins, so they run in Jinja2's immutable sandbox (no `__class__`, no
mutation), with `StrictUndefined` (a misspelt variable is an error, not an empty string), and `.html`
templates are autoescaped. `check_templates` renders every template with a sample case, so a broken
template fails `ingestd check-config`, not a message at 3 a.m.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    BaseLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ingestd.config.outbound import LetterheadConfig, OutboundConfig
from outbound.compose import MAX_SUBJECT, one_line
from outbound.deadlines import format_date

LANGUAGES = ("zh", "en")
REQUIRED = ("ack.subject.txt", "ack.txt", "ack.html", "notify.subject.txt", "notify.txt", "reply.subject.txt",
            "reply.txt", "letter.html",
            "remind.subject.txt", "remind.txt", "escalate.subject.txt", "escalate.txt", "progress.subject.txt",
            "progress.txt")
BUNDLED = Path(__file__).resolve().parents[1] / "config" / "templates"


def resolve_dir(config: OutboundConfig) -> Path:
    """The configured folder; the default (`config/templates`, relative to the current folder) falls back
    to the templates shipped with ingestd when the current folder has none."""
    folder = config.templates_dir
    if "templates_dir" not in config.model_fields_set and not folder.is_dir() and BUNDLED.is_dir():
        return BUNDLED
    return folder


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else "zh"


RECHECK_SECONDS = 1.0  # how stale an edited template may be: how often its file is looked at again


class _RecheckingLoader(BaseLoader):
    """Templates from files, each file looked at again (its mtime) at most once every `recheck_seconds`.

    Jinja checks the file of a cached template on every `get_template`: one `stat` per render, three per
    acknowledgement, which cost as much as rendering them (a twentieth of the committing process in
    bench/imap_bench). An admin's edit still shows within a second, without restarting or reloading ingestd.
    """

    def __init__(self, root: Path, recheck_seconds: float, clock: Callable[[], float]) -> None:
        self.files = FileSystemLoader(str(root))
        self.recheck_seconds = recheck_seconds
        self.clock = clock

    def get_source(self, environment: Environment, template: str) -> tuple[str, str | None, Callable[[], bool]]:
        source, filename, uptodate = self.files.get_source(environment, template)
        checked = {"at": self.clock(), "fresh": True}

        def throttled() -> bool:
            now = self.clock()
            if checked["fresh"] and now - checked["at"] < self.recheck_seconds:
                return True
            checked["at"], checked["fresh"] = now, bool(uptodate())
            return checked["fresh"]

        return source, filename, throttled

    def list_templates(self) -> list[str]:
        return self.files.list_templates()


class Templates:
    def __init__(self, root: Path, *, recheck_seconds: float = RECHECK_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.root = root
        self.env = ImmutableSandboxedEnvironment(
            loader=_RecheckingLoader(root, recheck_seconds, clock),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html", "htm"), default_for_string=False, default=False),
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, language: str, name: str, context: dict[str, Any]) -> str:
        return self.env.get_template(f"{language_of(language)}/{name}").render(context)

    def subject(self, language: str, name: str, context: dict[str, Any]) -> str:
        return subject_line(self.render(language, name, context))

    def render_each(self, language: str, names: Sequence[str], context: dict[str, Any]) -> list[str]:
        """Several templates of one message (an acknowledgement's subject, text and HTML) from one context.
        `render` lets Jinja copy its globals and the context into a new context for each template: a third of
        rendering an acknowledgement's three. Here they are merged once and shared (read-only to a template:
        what it sets goes into its own context)."""
        templates = [self.env.get_template(f"{language_of(language)}/{name}") for name in names]
        shared = {**self.env.globals, **context}
        try:
            return [self.env.concat(t.root_render_func(t.new_context(shared, shared=True)))  # type: ignore[attr-defined]
                    for t in templates]
        except Exception:
            self.env.handle_exception()  # as `Template.render`: raised again, pointing at the template's line
            raise  # not reached


def subject_line(rendered: str) -> str:
    """A rendered subject template as a subject: one line, at most `MAX_SUBJECT` characters."""
    return one_line(rendered, MAX_SUBJECT)


# -- what templates see -------------------------------------------------------------------------------
def case_view(case: Any, *, zone: ZoneInfo, language: str) -> dict[str, Any]:
    """A case as plain data (no ORM object reaches a template)."""
    received = case.received_at.astimezone(zone) if case.received_at else None
    return {
        "case_no": case.case_no,
        "channel": case.channel,
        "subject": one_line(case.subject, 300),
        "description": case.description or "",
        "demands": case.demands or "",
        "language": case.language,
        "received": received.strftime("%Y-%m-%d %H:%M") if received else "",
        "received_date": format_date(received.date(), language) if received else "",
        "complainant_name": case.complainant_name or "",
        "complainant_email": case.complainant_email or "",
        "complainant_phone": case.complainant_phone or "",
        "complainant_phones": list(case.complainant_phones or []),
        "complainant_address": case.complainant_address or "",
        "anonymous": bool(case.anonymous),
        "department": case.department or "",
        "category": case.category or "",
        "grade": case.grade or "",
        "flags": list(case.flags or []),
    }


def org_view(letterhead: LetterheadConfig, language: str) -> dict[str, str]:
    en = language == "en"
    return {
        "name": letterhead.org_name_en if en else letterhead.org_name,
        "address": letterhead.address_en if en else letterhead.address,
        "phone": letterhead.phone,
        "email": letterhead.email,
        "website": letterhead.website,
        "signatory": letterhead.signatory_en if en else letterhead.signatory,
    }


@dataclass(slots=True)
class AttachmentNote:
    filename: str
    size: int
    included: bool


def ack_context(case: Any, *, config: OutboundConfig, zone: ZoneInfo, answer_by: date, reply_address: str,
                attachments: list[str]) -> dict[str, Any]:
    language = language_of(case.language)
    return {
        "case": case_view(case, zone=zone, language=language),
        "org": org_view(config.letterhead, language),
        "answer_by": format_date(answer_by, language),
        "answer_by_iso": answer_by.isoformat(),
        "reply_address": reply_address,
        "attachments": list(attachments),
    }


def notify_context(case: Any, *, config: OutboundConfig, zone: ZoneInfo, answer_by: date, department: str,
                   inbox: str, attachments: list[AttachmentNote], reason: str,
                   language: str | None = None, department_name: str | None = None) -> dict[str, Any]:
    language = language or config.notify_language
    return {
        "case": case_view(case, zone=zone, language=language),
        "org": org_view(config.letterhead, language),
        "answer_by": format_date(answer_by, language),
        "answer_by_iso": answer_by.isoformat(),
        "department": {"key": department, "name": department_name or department, "inbox": inbox},
        "attachments": [{"filename": a.filename, "size": a.size, "included": a.included} for a in attachments],
        "attachment_limit": config.notify_attachment_max_bytes,
        "reason": reason,  # "routed" | "rerouted"
    }


def reply_context(case: Any, *, config: OutboundConfig, zone: ZoneInfo, today: date, text: str) -> dict[str, Any]:
    language = language_of(case.language)
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return {
        "case": case_view(case, zone=zone, language=language),
        "org": org_view(config.letterhead, language),
        "date": format_date(today, language),
        "date_iso": today.isoformat(),
        "body": text.strip(),
        "paragraphs": [p.split("\n") for p in paragraphs],  # paragraphs, each a list of lines
    }


def notice_context(case: Any, *, config: OutboundConfig, zone: ZoneInfo, language: str, deadline: str,
                   due: datetime | None, department_name: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Reminders, escalations and progress notices: the case, which deadline (acknowledge | first_answer |
    resolve | return_visit), when it is due (local), and what the caller adds (points, overdue_by, reason)."""
    local = due.astimezone(zone) if due else None
    return {
        "case": case_view(case, zone=zone, language=language),
        "org": org_view(config.letterhead, language),
        "deadline": deadline,
        "due": local.strftime("%Y-%m-%d %H:%M") if local else "",
        "due_date": format_date(local.date(), language) if local else "",
        "department": {"key": case.department or "", "name": department_name},
        **(extra or {}),
    }


# -- check-config -------------------------------------------------------------------------------------
def sample_case(language: str) -> Any:
    from ingestd.store.models import Case

    zh = language == "zh"
    now = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    return Case(
        case_no="TS-202611-00001", channel="email", status="open", language=language,
        subject="投诉：快递延误" if zh else "Complaint: parcel delayed",
        description="我的订单 SF1234567890 已经延误十天。" if zh else "My order SF1234567890 is ten days late.",
        demands="尽快处理并赔偿" if zh else "Deliver it and compensate me",
        full_text="", complainant_name="张伟" if zh else "Jane Doe", complainant_email="zhang.wei@example.com",
        complainant_phone="+8613800138000", complainant_phones=["+8613800138000"],
        complainant_address="上海市浦东新区示例路 1 号", anonymous=False, received_at=now, created_at=now,
        updated_at=now, source="check-config", department="logistics", category="delivery", grade="normal",
        flags=[], rule_hits=[], fields={},
    )


def sample_contexts(config: OutboundConfig, language: str) -> dict[str, dict[str, Any]]:
    zone = ZoneInfo("Asia/Shanghai")
    case = sample_case(language)
    by = date(2026, 11, 4)
    ack = ack_context(case, config=config, zone=zone, answer_by=by, reply_address=config.default_from,
                      attachments=["照片.jpg"])
    notify = notify_context(case, config=config, zone=zone, answer_by=by, department="logistics",
                            inbox="logistics@example.com", reason="routed", language=language,
                            attachments=[AttachmentNote("照片.jpg", 20480, True), AttachmentNote("video.mp4", 12 << 20, False)])
    reply = reply_context(case, config=config, zone=zone, today=by,
                          text="经核查，您反映的问题属实。\n\n我们已责成快递公司赔偿。" if language == "zh"
                          else "We have looked into your complaint.\n\nThe courier will compensate you.")
    due = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)
    notice = {"config": config, "zone": zone, "language": language, "due": due, "department_name": "物流部"}
    remind = notice_context(case, deadline="first_answer", **notice, extra={"share": 50, "left": "4.5"})
    escalate = notice_context(case, deadline="resolve", **notice, extra={"overdue": "9.0", "round": 1, "reason": "",
                                                                        "holder": "logistics@example.com"})
    progress = notice_context(case, deadline="resolve", **notice, extra={"days": 5, "reason": "等待快递公司调查结果"})
    return {"ack": ack, "notify": notify, "reply": reply, "letter": reply, "remind": remind, "escalate": escalate,
            "progress": progress}


def check_templates(config: OutboundConfig) -> list[Any]:
    """Render every template (required ones, and any other file in the language folders) with a sample
    case; each failure is a `Problem(file, line, message)`."""
    from ingestd.config.loader import Problem

    root = resolve_dir(config)
    if not root.is_dir():
        return [Problem(str(root), None, f"outbound.templates_dir: {root} is not a folder")]
    templates = Templates(root)
    problems: list[Problem] = []
    for language in LANGUAGES:
        folder = root / language
        contexts = sample_contexts(config, language)
        names = sorted({*REQUIRED, *(p.name for p in folder.glob("*") if p.is_file() and not p.name.startswith("."))})
        for name in names:
            path = folder / name
            if not path.exists():
                problems.append(Problem(str(path), None, f"template missing ({language}/{name})"))
                continue
            context = contexts.get(name.split(".", 1)[0], contexts["ack"])
            try:
                templates.render(language, name, context)
            except TemplateSyntaxError as exc:
                problems.append(Problem(str(path), exc.lineno, f"template syntax: {exc.message}"))
            except Exception as exc:  # undefined variables, sandbox violations, filters failing
                kind = "not allowed in a template" if "unsafe" in str(exc) or type(exc).__name__ == "SecurityError" \
                    else "template error"
                problems.append(Problem(str(path), _template_line(exc, path), f"{kind}: {type(exc).__name__}: {exc}"))
    return problems


def _template_line(exc: BaseException, path: Path) -> int | None:
    """The template line the exception was raised at (Jinja rewrites tracebacks to point at templates)."""
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if Path(frame.f_code.co_filename) == path.resolve() or frame.f_code.co_filename == str(path):
            line = lineno
    return line


__all__ = ["TemplateError", "Templates", "check_templates", "resolve_dir"]
