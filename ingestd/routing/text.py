"""Text folding for matching: the same word written in full width, upper case or Traditional characters
must match the keyword an admin typed in half width, lower case Simplified Chinese."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def _t2s_table() -> dict[int, str]:
    """Traditional → Simplified for single characters, from OpenCC's character table (shipped in the
    opencc-python-reimplemented wheel: no download)."""
    import opencc

    table: dict[int, str] = {}
    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        trad, _, simp = line.partition("\t")
        simp = simp.split(" ")[0]
        if len(trad) == 1 and len(simp) == 1 and trad != simp:
            table[ord(trad)] = simp
    return table


def fold(text: str) -> str:
    """NFKC (full width → half width), case folding, Traditional → Simplified. Keeps length stable
    enough for highlighting: every step maps one character to one character for CJK and ASCII."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return text.translate(_t2s_table())


def fold_pattern(pattern: str) -> str:
    """A regular expression made to match folded text: width and Traditional folding, but no case folding
    (that would turn `\\D` into `\\d`); patterns are compiled case-insensitive instead."""
    return unicodedata.normalize("NFKC", pattern).translate(_t2s_table())


def is_word_char(ch: str) -> bool:
    """Letters and digits of alphabetic scripts (Latin, accented Latin, Greek, Cyrillic) form words, so their
    keywords need boundaries; CJK ideographs, kana and everything from U+2E80 up do not."""
    return ch.isalnum() and ord(ch) < 0x2E80
