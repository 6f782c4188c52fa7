"""Every keyword of every rule in one Aho-Corasick automaton, so that a case costs one pass over its
text whether the rules hold 10 keywords or 10,000."""

from __future__ import annotations

from collections.abc import Iterable

import ahocorasick

from ingestd.routing.text import is_word_char


class KeywordIndex:
    """Folded keywords → ids. `find` returns the ids present in a folded text: CJK keywords anywhere,
    Latin keywords only as whole words (so "refund" does not fire inside "refunded")."""

    def __init__(self, keywords: Iterable[str]) -> None:
        self.keywords: list[str] = []
        self._ids: dict[str, int] = {}
        self._automaton = ahocorasick.Automaton()
        for keyword in keywords:
            self.add(keyword)
        if self.keywords:
            self._automaton.make_automaton()

    def add(self, keyword: str) -> int:
        if keyword in self._ids:
            return self._ids[keyword]
        kid = len(self.keywords)
        self.keywords.append(keyword)
        self._ids[keyword] = kid
        self._automaton.add_word(keyword, (kid, len(keyword), is_word_char(keyword[0]), is_word_char(keyword[-1])))
        return kid

    def id_of(self, keyword: str) -> int:
        return self._ids[keyword]

    def find(self, text: str) -> set[int]:
        found: set[int] = set()
        if not self.keywords or not text:
            return found
        last = len(text) - 1
        for end, (kid, length, latin_start, latin_end) in self._automaton.iter(text):
            start = end - length + 1
            if latin_start and start > 0 and is_word_char(text[start - 1]):
                continue
            if latin_end and end < last and is_word_char(text[end + 1]):
                continue
            found.add(kid)
        return found
