"""Every keyword of every rule in one Aho-Corasick automaton, so that a case costs one pass over its
text whether the rules hold 10 keywords or 10,000.

The automaton is ahocorasick-rs (Rust's aho-corasick crate, compiled to a DFA): its cost per character
does not grow with the number of keywords, which a trie with linearly searched children does.
"""

from __future__ import annotations

from collections.abc import Iterable

import ahocorasick_rs

from ingestd.routing.text import is_word_char


class KeywordIndex:
    """Folded keywords → ids. `find` returns the ids present in a folded text: CJK keywords anywhere,
    Latin keywords only as whole words (so "refund" does not fire inside "refunded")."""

    def __init__(self, keywords: Iterable[str]) -> None:
        self.keywords: list[str] = list(dict.fromkeys(k for k in keywords if k))
        self._ids = {k: i for i, k in enumerate(self.keywords)}
        self._edges = [(is_word_char(k[0]), is_word_char(k[-1])) for k in self.keywords]
        self._automaton = ahocorasick_rs.AhoCorasick(
            self.keywords, implementation=ahocorasick_rs.Implementation.DFA) if self.keywords else None

    def id_of(self, keyword: str) -> int:
        return self._ids[keyword]

    def find(self, text: str) -> set[int]:
        found: set[int] = set()
        if self._automaton is None or not text:
            return found
        last = len(text) - 1
        for kid, start, end in self._automaton.find_matches_as_indexes(text, overlapping=True):
            if kid in found:
                continue
            latin_start, latin_end = self._edges[kid]
            if latin_start and start > 0 and is_word_char(text[start - 1]):
                continue
            if latin_end and end <= last and is_word_char(text[end]):
                continue
            found.add(kid)
        return found
