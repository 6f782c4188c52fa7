"""Multipart boundaries: `BoundaryMatcher` answers exactly as the pattern `email.feedparser` would compile."""

from __future__ import annotations

import re
from email import feedparser, message_from_bytes
from email.policy import compat32

from hypothesis import given, settings
from hypothesis import strategies as st

from parsers import boundaries


def feedparser_pattern(boundary: str) -> str:
    """The pattern as `email.feedparser` builds it (Python 3.11's `_parsegen`)."""
    return "(?P<sep>" + re.escape("--" + boundary) + r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"


BOUNDARY_CHARS = st.sampled_from([*"abcXYZ019'()+_,-./:=? \t\\*[]{}|^$&~#", "\n", "中"])
boundary_texts = st.text(BOUNDARY_CHARS, min_size=1, max_size=12)
tails = st.sampled_from(["", "--", "\n", "\r\n", "\r", "--\n", "-- \t\r\n", "  \n", "x\n", "--x", "\n\n", " -\n"])


@settings(max_examples=500, deadline=None)
@given(boundary=boundary_texts, prefix=st.sampled_from(["", "-", " ", "x"]), tail=tails,
       cut=st.integers(min_value=0, max_value=3))
def test_the_matcher_agrees_with_the_compiled_pattern(boundary: str, prefix: str, tail: str, cut: int) -> None:
    """Given any boundary and a line that is, or nearly is, its separator line, when matched both ways, then
    both match or neither does, with the same `end` and `linesep` groups."""
    pattern = feedparser_pattern(boundary)
    separator = "--" + boundary
    line = prefix + separator[:len(separator) - cut] + tail
    expected = re.compile(pattern).match(line)
    got = boundaries._FeedparserRe().compile(pattern).match(line)
    assert (got is None) == (expected is None)
    if expected is not None and got is not None:
        assert [got.group(g) for g in ("end", "ws", "linesep")] == [expected.group(g) for g in ("end", "ws", "linesep")]


def test_only_the_boundary_pattern_is_answered_by_the_matcher() -> None:
    fake = boundaries._FeedparserRe()
    assert isinstance(fake.compile(feedparser_pattern("=_Part_1.2")), boundaries.BoundaryMatcher)
    assert isinstance(fake.compile(r"\r\n|\r|\n"), re.Pattern)
    assert isinstance(fake.compile(feedparser_pattern("x"), re.I), re.Pattern)  # flags: left to re
    assert fake.escape is re.escape  # everything else is the re module's own


def test_feedparser_uses_it_and_still_splits_parts() -> None:
    """Given the matcher installed (as parsers.mime does), when a message with nested multiparts and a boundary
    full of regex characters is parsed, then every part comes out, with its preamble and epilogue."""
    boundaries.install()
    assert isinstance(feedparser.re, boundaries._FeedparserRe)
    raw = (b"Content-Type: multipart/mixed; boundary=\"a.b+c*(d)?\"\r\n\r\npreamble\r\n"
           b"--a.b+c*(d)?\r\nContent-Type: multipart/alternative; boundary=\"[x]\"\r\n\r\n"
           b"--[x]\r\nContent-Type: text/plain\r\n\r\none\r\n--[x]\r\nContent-Type: text/html\r\n\r\n<p>two</p>\r\n"
           b"--[x]--\r\n--a.b+c*(d)? \t\r\nContent-Type: text/plain\r\n\r\nthree\r\n--a.b+c*(d)?--\r\nepilogue\r\n")
    msg = message_from_bytes(raw, policy=compat32)
    assert msg.preamble == "preamble"
    assert [p.get_payload() for p in msg.walk() if not p.is_multipart()] == ["one", "<p>two</p>", "three"]
    assert msg.epilogue == "epilogue\r\n"
