"""Oversized inputs: a message, or an attachment, bigger than the configured limits; and shapes no limit covers.

The attack: exhausting memory or disk, or wedging the intake, with one big input: a message over
`limits.max_message_bytes`, an attachment over `limits.max_attachment_bytes` (in the message itself, inside
a forwarded message, in a message big enough to take the large-body path), and shapes that `LimitsConfig`
has no key for: thousands of nested multiparts, hundreds of thousands of header fields, a multi-megabyte
line. What is checked: an input over a limit is parked as unreadable with a reason naming the limit (key and
value), its raw bytes are kept in the blob store, taking it again adds nothing, and the intake takes the next
input normally; a limit is inclusive; the other shapes end as a case or with a clear reason, and never stop
the intake.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import select

from ingestd.app import App
from ingestd.config import LoadedConfig
from ingestd.config.check import check_loaded
from ingestd.pipeline.items import Outcome, RawInput
from ingestd.store.models import QuarantineEntry
from parsers import UnparseableInput, parse_email
from parsers.mime import LIFT_OVER_BYTES
from tests.conftest import make_settings
from tests.mail import complaint
from tests.test_cli import ingestd

LIMITS = {"max_message_bytes": 64 * 1024, "max_attachment_bytes": 16 * 1024}


def raw(data: bytes, ref: str = "") -> RawInput:
    return RawInput(data=data, source="test", source_ref=ref)


def small(n: int) -> bytes:
    return complaint(message_id=f"<small-{n}@example.com>", body=f"第{n}件投诉：快递延误。\n")


def parked(app: App) -> list[QuarantineEntry]:
    with app.db.read() as session:
        return list(session.exec(select(QuarantineEntry).order_by(QuarantineEntry.id)).all())


def assert_parked_for(app: App, outcome: Outcome, data: bytes, *, key: str, limit: int, stage: str) -> None:
    """Parked as unreadable, the reason naming the limit's key and value, the raw bytes kept."""
    assert outcome.status == "quarantined", outcome
    reason = outcome.reason or ""
    assert f"limits.{key}" in reason and f"{limit:,}" in reason, reason
    assert outcome.stage == stage
    (entry,) = [e for e in parked(app) if e.raw_sha256 == outcome.sha256]
    assert entry.kind == "unreadable" and entry.reason == reason
    assert app.blobs.read(entry.raw_sha256) == data


def forward_of(inner: bytes) -> bytes:
    """A front desk's forward: a short note with the complaint attached as message/rfc822."""
    return (b"From: Front Desk <desk@shop.example>\r\nTo: complaints@ingestd.example\r\nSubject: Fwd: complaint\r\n"
            b"Message-ID: <fwd-1@shop.example>\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="fwd"\r\n\r\n--fwd\r\nContent-Type: text/plain\r\n\r\nFYI\r\n'
            b"--fwd\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--fwd--\r\n")


def nested(depth: int) -> bytes:
    head = (b"From: a@example.com\r\nTo: complaints@ingestd.example\r\nSubject: deep\r\n"
            b"Message-ID: <deep@example.com>\r\nMIME-Version: 1.0\r\n")
    opens = b"".join(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode() for i in range(depth))
    closes = b"".join(f"\r\n--b{i}--\r\n".encode() for i in reversed(range(depth)))
    return head + opens + b"Content-Type: text/plain\r\n\r\nhello from the bottom\r\n" + closes


# -- moved from tests/parsers/test_mime.py ---------------------------------------------------------------------
def test_attachment_over_the_limit_is_refused() -> None:
    """Given an attachment over max_attachment_bytes, when parsed with that limit, then it is refused by name."""
    data = complaint(attachments=[("big.bin", "application/octet-stream", b"x" * 5000)])
    with pytest.raises(UnparseableInput, match=r"big\.bin"):
        parse_email(data, max_attachment_bytes=1000)


# -- new -------------------------------------------------------------------------------------------------------
def test_a_message_over_the_limit_is_parked_and_the_batch_goes_on(make_app: Callable[..., App],
                                                                   sqlite_url: str) -> None:
    """Given a batch (parsed by two worker processes) of a complaint, a message over limits.max_message_bytes
    and another complaint, when taken, then the big one is parked at receive with the limit named and its bytes
    kept, the two others are cases, and taking the big one again adds nothing."""
    app = make_app(sqlite_url, limits=LIMITS)
    big = complaint(message_id="<big@example.com>", body="大" * 40_000)
    assert len(big) > LIMITS["max_message_bytes"]
    outcomes = [o for _, o in app.intake.take_many([raw(small(1)), raw(big, "big.eml"), raw(small(2))], workers=2)]
    assert [o.status for o in outcomes] == ["created", "quarantined", "created"]
    assert_parked_for(app, outcomes[1], big, key="max_message_bytes", limit=LIMITS["max_message_bytes"],
                      stage="receive")
    assert f"{len(big):,} bytes" in (outcomes[1].reason or "")
    again = app.intake.take(raw(big))
    assert again.status == "duplicate" and len(parked(app)) == 1


def test_an_attachment_over_the_limit_is_parked_naming_it(make_app: Callable[..., App], sqlite_url: str) -> None:
    """Given a message under the message limit with one attachment over limits.max_attachment_bytes, when taken,
    then it is parked at parse, the reason naming the attachment and the limit, and the next complaint goes in."""
    app = make_app(sqlite_url, limits=LIMITS)
    data = complaint(attachments=[("证据视频.mp4", "video/mp4", b"\x00" * (LIMITS["max_attachment_bytes"] + 1))])
    assert len(data) < LIMITS["max_message_bytes"]
    outcome = app.intake.take(raw(data))
    assert_parked_for(app, outcome, data, key="max_attachment_bytes", limit=LIMITS["max_attachment_bytes"],
                      stage="parse")
    assert "证据视频.mp4" in (outcome.reason or "")
    assert app.intake.take(raw(small(3))).status == "created"


def test_an_attachment_over_the_limit_inside_a_forward_is_parked(make_app: Callable[..., App],
                                                                  sqlite_url: str) -> None:
    """Given a front desk's forward whose attached message carries an attachment over the limit, when taken,
    then it is parked naming the limit, like an attachment of the message itself."""
    app = make_app(sqlite_url, limits=LIMITS)
    inner = complaint(attachments=[("big.pdf", "application/pdf", b"%PDF" + b"0" * LIMITS["max_attachment_bytes"])])
    data = forward_of(inner)
    outcome = app.intake.take(raw(data))
    assert_parked_for(app, outcome, data, key="max_attachment_bytes", limit=LIMITS["max_attachment_bytes"],
                      stage="parse")


def test_an_attachment_over_the_limit_in_a_large_message_is_parked(make_app: Callable[..., App],
                                                                    sqlite_url: str) -> None:
    """Given a message over 4 MiB (its large base64 bodies decoded aside, a different code path) with a 5 MiB
    attachment and a 1 MiB attachment limit, when taken, then it is parked naming the limit."""
    limit = 1024 * 1024
    app = make_app(sqlite_url, limits={"max_attachment_bytes": limit})
    data = complaint(attachments=[("scan.tif", "image/tiff", b"II*\x00" + b"\x17" * (5 * 1024 * 1024))])
    assert len(data) > LIFT_OVER_BYTES
    outcome = app.intake.take(raw(data))
    assert_parked_for(app, outcome, data, key="max_attachment_bytes", limit=limit, stage="parse")


def test_limits_are_inclusive(make_app: Callable[..., App], tmp_path: Path) -> None:
    """Given a message of exactly N bytes with an attachment of exactly M bytes, when taken with limits N and M,
    then it is a case; with N - 1 it is parked at receive, and with M - 1 at parse."""
    attachment = b"\x01" * 5000
    data = complaint(attachments=[("a.bin", "application/octet-stream", attachment)])
    exact = make_app(f"sqlite:///{tmp_path}/exact.db",
                     limits={"max_message_bytes": len(data), "max_attachment_bytes": len(attachment)})
    assert exact.intake.take(raw(data)).status == "created"
    short = make_app(f"sqlite:///{tmp_path}/short.db", limits={"max_message_bytes": len(data) - 1})
    assert short.intake.take(raw(data)).stage == "receive"
    narrow = make_app(f"sqlite:///{tmp_path}/narrow.db", limits={"max_attachment_bytes": len(attachment) - 1})
    assert narrow.intake.take(raw(data)).stage == "parse"


def test_an_attachment_limit_above_the_message_limit_is_a_config_problem(tmp_path: Path) -> None:
    """Given limits where an attachment may be bigger than the whole message, when the config is checked, then
    that is reported (the attachment limit could never apply)."""
    settings = make_settings(f"sqlite:///{tmp_path}/x.db", tmp_path / "var",
                             limits={"max_message_bytes": 1000, "max_attachment_bytes": 2000})
    problems = [str(p) for p in check_loaded(LoadedConfig(settings, None))]
    assert any("limits.max_attachment_bytes is larger than limits.max_message_bytes" in p for p in problems)


@pytest.mark.parametrize(("shape", "build"), [
    ("5000 nested multiparts", lambda: nested(5000)),
    ("300 nested multiparts", lambda: nested(300)),
    ("200,000 header fields", lambda: (b"From: a@example.com\r\nSubject: many\r\nMessage-ID: <many@example.com>\r\n"
                                       + b"".join(b"X-H%d: v\r\n" % i for i in range(200_000)) + b"\r\nbody\r\n")),
    ("a 4 MB line", lambda: (b"From: a@example.com\r\nSubject: long\r\nMessage-ID: <long@example.com>\r\n\r\n"
                             + b"x" * (4 * 1024 * 1024) + b"\r\n")),
    ("a 1 MB subject", lambda: (b"From: a@example.com\r\nMessage-ID: <subj@example.com>\r\nSubject: "
                                + b"y" * (1024 * 1024) + b"\r\n\r\nbody\r\n")),
])
def test_shapes_no_limit_covers_end_as_a_case_or_a_clear_reason(make_app: Callable[..., App], sqlite_url: str,
                                                                  shape: str, build: Callable[[], bytes]) -> None:
    """Given an input of a shape no configured limit covers, when taken, then it is a case, or it is parked with a
    reason that says what is wrong (not a crash, not a stack of Python internals); and the next complaint goes
    in."""
    app = make_app(sqlite_url)
    data = build()
    outcome = app.intake.take(raw(data))
    if outcome.status == "quarantined":
        assert outcome.reason and "nested too deeply" in outcome.reason, (shape, outcome.reason)
        (entry,) = parked(app)
        assert entry.kind == "unreadable" and app.blobs.read(entry.raw_sha256) == data
    else:
        assert outcome.status == "created", (shape, outcome)
    assert app.intake.take(raw(small(4))).status == "created"


def test_ingest_command_parks_the_big_file_and_takes_the_rest(tmp_path: Path) -> None:
    """Given a config with a small message limit and a folder with a complaint, a too-big message and another
    complaint, when `ingestd ingest` runs, then it exits 0 with two cases and one quarantined, and
    `ingestd quarantine list` shows the reason naming limits.max_message_bytes."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "1.eml").write_bytes(small(5))
    (inbox / "2-big.eml").write_bytes(complaint(message_id="<big-cli@example.com>", body="大" * 40_000))
    (inbox / "3.eml").write_bytes(small(6))
    config = tmp_path / "ingestd.toml"
    config.write_text(f"[limits]\nmax_message_bytes = {LIMITS['max_message_bytes']}\n"
                      f"max_attachment_bytes = {LIMITS['max_attachment_bytes']}\n", encoding="utf-8")
    done = ingestd(tmp_path, "--config", str(config), "ingest", "inbox")
    assert done.returncode == 0, done.stderr
    assert re.search(r"created: 2\b", done.stdout) and re.search(r"quarantined: 1\b", done.stdout), done.stdout
    listed = ingestd(tmp_path, "--config", str(config), "quarantine", "list")
    assert listed.returncode == 0 and "limits.max_message_bytes" in listed.stdout.replace("\n", ""), listed.stdout
