"""The Router: rules compiled once, then a pure function from a parsed input to a Classification.

Department: the highest total weight of the rules that fired wins; a tie goes to the department whose
first rule comes earlier; no rule, the default department. Category: that of the heaviest rule that
fired for the winning department (or for none), else of the heaviest rule that fired. Grade: every rule
that fired with a grade counts and the highest grade wins (等级从高). A rule with `stop = true` ends the
evaluation when it fires.
Every decision carries its reasons: the rules that fired and the words that matched, per field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ingestd.pipeline.items import Classification, Parsed
from ingestd.routing.matcher import KeywordIndex
from ingestd.routing.model import RoutingFile, Rule
from ingestd.routing.text import fold, fold_pattern


@dataclass(frozen=True, slots=True)
class Facts:
    """What routing looks at, already folded: built from a fresh input or from a stored case."""

    subject: str
    description: str
    attachments: str
    sender: str  # lower-cased address, "" if none
    mailbox: str
    source: str
    channel: str
    repeat: bool

    @classmethod
    def from_parsed(cls, parsed: Parsed) -> Facts:
        email = parsed.email
        return cls(
            subject=fold(email.subject or ""),
            description=fold(email.description or email.body_text or ""),
            attachments=fold("\n".join(a.filename for a in email.attachments)),
            sender=(email.from_addr or "").lower(),
            mailbox=parsed.raw.mailbox or "",
            source=parsed.raw.source,
            channel=parsed.raw.channel,
            repeat=parsed.repeat_complainant,
        )


@dataclass(slots=True)
class CompiledRule:
    index: int
    rule: Rule
    any_ids: frozenset[int]
    all_ids: frozenset[int]
    none_ids: frozenset[int]
    attachment_ids: frozenset[int]
    regexes: list[re.Pattern[str]]
    keyword_driven: bool  # has any/all/attachment_any: only looked at when one of its keywords is present


@dataclass(slots=True)
class Hit:
    rule: CompiledRule
    matched: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        r = self.rule.rule
        return {"rule": r.name, "weight": r.weight, "matched": self.matched, "department": r.department,
                "category": r.category, "grade": r.grade, "flags": list(r.flags), "stop": r.stop}


class Router:
    def __init__(self, routing: RoutingFile, *, source: str = "routing") -> None:
        self.routing = routing
        self.source = source
        self.grade_rank = {g: i for i, g in enumerate(routing.grades)}
        keywords: dict[str, None] = {}
        for rule in routing.rules:
            for word in (*rule.any, *rule.all, *rule.none, *rule.attachment_any):
                folded = fold(word).strip()
                if folded:
                    keywords.setdefault(folded, None)
        self.index = KeywordIndex(keywords)
        self.rules = [self._compile(i, r) for i, r in enumerate(routing.rules)]
        self._by_keyword: dict[int, list[int]] = {}
        for compiled in self.rules:
            for kid in compiled.any_ids | compiled.all_ids | compiled.attachment_ids:
                self._by_keyword.setdefault(kid, []).append(compiled.index)
        self._always = [c.index for c in self.rules if not c.keyword_driven]

    def _compile(self, i: int, rule: Rule) -> CompiledRule:
        def ids(words: list[str]) -> frozenset[int]:
            return frozenset(self.index.id_of(f) for f in (fold(w).strip() for w in words) if f)

        return CompiledRule(
            index=i, rule=rule, any_ids=ids(rule.any), all_ids=ids(rule.all), none_ids=ids(rule.none),
            attachment_ids=ids(rule.attachment_any), regexes=[re.compile(fold_pattern(p), re.IGNORECASE) for p in rule.regex],
            keyword_driven=bool(rule.any or rule.all or rule.attachment_any),
        )

    # -- the decision ---------------------------------------------------------------------------------
    def classify(self, parsed: Parsed) -> Classification:
        return self.decide(Facts.from_parsed(parsed))

    def decide(self, facts: Facts) -> Classification:
        found = {"subject": self.index.find(facts.subject), "description": self.index.find(facts.description),
                 "attachments": self.index.find(facts.attachments)}
        present = found["subject"] | found["description"] | found["attachments"]
        candidates = set(self._always)
        for kid in present:
            candidates.update(self._by_keyword.get(kid, ()))
        hits: list[Hit] = []
        for i in sorted(candidates):
            hit = self._fire(self.rules[i], facts, found)
            if hit is not None:
                hits.append(hit)
                if hit.rule.rule.stop:
                    break
        return self._conclude(hits)

    def _fire(self, c: CompiledRule, facts: Facts, found: dict[str, set[int]]) -> Hit | None:
        rule = c.rule
        if rule.channel and facts.channel != rule.channel:
            return None
        if rule.repeat is not None and facts.repeat != rule.repeat:
            return None
        if rule.mailbox and facts.mailbox not in rule.mailbox and facts.source not in rule.mailbox:
            return None
        if rule.sender and not any(_sender_matches(facts.sender, s) for s in rule.sender):
            return None
        in_fields: set[int] = set().union(*(found[f] for f in rule.fields))
        if c.none_ids & in_fields:
            return None
        if c.any_ids and not c.any_ids & in_fields:
            return None
        if c.all_ids and not c.all_ids <= in_fields:
            return None
        if c.attachment_ids and not c.attachment_ids & found["attachments"]:
            return None
        matched: dict[str, list[str]] = {}
        if c.regexes:
            texts = {f: getattr(facts, f) for f in rule.fields}
            regex_hits = {f: m.group(0) for f, t in texts.items() for rx in c.regexes if (m := rx.search(t))}
            if not regex_hits:
                return None
            for f, word in regex_hits.items():
                matched.setdefault(f, []).append(word)
        positive = c.any_ids | c.all_ids
        for f in rule.fields:
            words = sorted(self.index.keywords[k] for k in found[f] & positive)
            if words:
                matched.setdefault(f, []).extend(words)
        if c.attachment_ids:
            matched.setdefault("attachments", []).extend(
                sorted(self.index.keywords[k] for k in found["attachments"] & c.attachment_ids))
        if rule.sender:
            matched["sender"] = [facts.sender]
        return Hit(rule=c, matched=matched)

    def _conclude(self, hits: list[Hit]) -> Classification:
        scores: dict[str, float] = {}
        first: dict[str, int] = {}
        for hit in hits:
            dept = hit.rule.rule.department
            if dept:
                scores[dept] = scores.get(dept, 0.0) + hit.rule.rule.weight
                first.setdefault(dept, hit.rule.index)
        if scores:
            department = max(scores, key=lambda d: (scores[d], -first[d]))
            decided_by = self.rules[first[department]].rule.name
        else:
            department, decided_by = self.routing.default_department, "default"
        with_category = [h for h in hits if h.rule.rule.category]
        agreeing = [h for h in with_category if h.rule.rule.department in (None, department)]
        pool = agreeing or with_category  # the category of the winning department's heaviest rule, if it has one
        category = max(pool, key=lambda h: (h.rule.rule.weight, -h.rule.index)).rule.rule.category if pool else None
        grades = [h.rule.rule.grade for h in hits if h.rule.rule.grade in self.grade_rank]
        grade = min(grades, key=self.grade_rank.__getitem__) if grades else \
            (self.routing.default_grade or self.routing.lowest_grade)
        flags = list(dict.fromkeys(f for h in hits for f in h.rule.rule.flags))
        rule_hits = [h.as_dict() for h in hits]
        for entry in rule_hits:
            if entry["department"]:
                entry["department_score"] = scores[entry["department"]]
        return Classification(department=department, category=category, grade=grade, flags=flags,
                              rule_hits=rule_hits, decided_by=decided_by)


def _sender_matches(sender: str, pattern: str) -> bool:
    if not sender:
        return False
    if pattern.startswith("@"):
        domain = sender.rsplit("@", 1)[-1]
        return domain == pattern[1:] or domain.endswith("." + pattern[1:])
    return sender == pattern
