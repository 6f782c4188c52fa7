"""Property: whatever bytes arrive, the parser returns a ParsedEmail or raises UnparseableInput — never
anything else. Inputs are the project's samples, mutated the way mail gets damaged in transit."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import UnparseableInput, parse_email

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "ingestd" / "samples" / "mail").glob("*.eml"))
SEEDS = [p.read_bytes() for p in SAMPLES]
NASTY = [b"\x00", b"\r", b"\n", b"\r\n\r\n", b"--", b"=?", b"?=", b"=?utf-8?B?", b"=?gb2312?Q?=B0", b"\xff\xfe",
         b"Content-Type: multipart/mixed; boundary=\"x\"\r\n", b"Content-Transfer-Encoding: base64\r\n",
         b"charset=\"x-unknown\"", b"filename*=UTF-8''%E6%8A", b"<", b">", b"\x1b", b"\xe6\x8a", b"\t"]


@st.composite
def damaged_mail(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.sampled_from(NASTY))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 64))]
        elif op == "truncate":
            del data[at:]
        else:
            data[at:at] = data[at:at + draw(st.integers(1, 200))]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_mail())
def test_damaged_mail_never_crashes_the_parser(raw: bytes) -> None:
    """Given a sample message damaged by flips, inserts, deletions, truncation or duplication, when parsed,
    then the result is a ParsedEmail with text fields free of NUL, or an UnparseableInput with a reason."""
    try:
        parsed = parse_email(raw)
    except UnparseableInput as exc:
        assert exc.reason
        return
    assert "\x00" not in parsed.subject + parsed.body_text + parsed.description
    assert parsed.language in ("zh", "en")


def test_regression_nul_inside_a_charset_label() -> None:
    """Found by fuzzing: a NUL byte inside `charset=` made codecs.lookup raise ValueError. Given such a
    label, when parsed, then the body still decodes."""
    raw = b'Content-Type: text/plain; charset=\x00utf-8"\nFrom: a@example.com\nSubject: s\n\n\xe6\x8a\x95\xe8\xaf\x89\n'
    assert parse_email(raw).body_text == "投诉"
