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


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@st.composite
def base64_text(draw: st.DrawFn) -> bytes:
    """What `_decode_base64_slices` hands the decoder: base64 alphabet and '=' only, a multiple of 4 long; well
    formed (encoded bytes) or damaged (padding in the middle, too much of it, characters lost or added)."""
    import base64

    text = base64.b64encode(draw(st.binary(max_size=300))).decode()
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(_ALPHABET + "=", min_size=1, max_size=3)) + text[at + draw(st.integers(0, 2)):]
    return text[:len(text) - len(text) % 4].encode()


@settings(max_examples=2000, deadline=None)
@given(base64_text())
def test_the_fast_base64_decoder_gives_what_binascii_gives(chunk: bytes) -> None:
    """Attachments are decoded by pybase64 where it accepts the text, by binascii where it does not: either way
    the bytes, or the refusal, are binascii's own."""
    import binascii

    from parsers.mime import _decode_clean_base64

    try:
        expected: bytes | type[Exception] = binascii.a2b_base64(chunk)
    except binascii.Error:
        expected = binascii.Error
    try:
        got: bytes | type[Exception] = _decode_clean_base64(chunk)
    except binascii.Error:
        got = binascii.Error
    assert got == expected
