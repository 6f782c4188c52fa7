"""Multipart boundaries matched without compiling a regular expression for each one.

The standard library's `email.feedparser` compiles a pattern for every multipart it meets
(`'(?P<sep>' + re.escape('--' + boundary) + ...`). Boundaries are unique per message, so `re`'s cache never
helps, and compiling one costs about 90 µs here: more than the rest of parsing a short multipart/alternative
message. `install()` gives feedparser a view of `re` whose `compile` answers that one pattern with
`BoundaryMatcher`, which tests the literal separator with `str.startswith` and matches only the fixed tail with a
pattern compiled once. Every other pattern, and any boundary pattern not exactly of that shape, goes to `re`.
"""

from __future__ import annotations

import re
from email import feedparser
from typing import Any

_HEAD = "(?P<sep>"
_TAIL = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
_TAIL_PATTERN = re.compile(r"(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$")
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


class BoundaryMatcher:
    """The compiled boundary pattern's `match(line)`: the separator at the start of the line, then the tail
    (`--` for the last boundary, blanks, the line end). Groups `end`, `ws` and `linesep` as the pattern's."""

    __slots__ = ("pattern", "separator")

    def __init__(self, separator: str, pattern: str) -> None:
        self.separator = separator
        self.pattern = pattern

    def match(self, line: str) -> re.Match[str] | None:
        if not line.startswith(self.separator):
            return None
        return _TAIL_PATTERN.match(line, len(self.separator))


def boundary_separator(pattern: str) -> str | None:
    """The separator a feedparser boundary pattern was made from; None for any other pattern."""
    if not (pattern.startswith(_HEAD) and pattern.endswith(_TAIL)):
        return None
    escaped = pattern[len(_HEAD):-len(_TAIL)]
    separator = _ESCAPED.sub(r"\1", escaped)
    return separator if separator and re.escape(separator) == escaped else None


class _FeedparserRe:
    """`re` as `email.feedparser` sees it once installed: the same module, but boundary patterns are matched
    by `BoundaryMatcher` instead of being compiled."""

    def compile(self, pattern: Any, flags: int = 0) -> Any:
        if isinstance(pattern, str) and not flags:
            separator = boundary_separator(pattern)
            if separator is not None:
                return BoundaryMatcher(separator, pattern)
        return re.compile(pattern, flags)

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)


def install() -> None:
    """Idempotent; process-wide (feedparser has no hook of its own for this)."""
    if not isinstance(feedparser.re, _FeedparserRe):
        feedparser.re = _FeedparserRe()  # type: ignore[assignment]
