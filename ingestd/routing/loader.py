"""Loading the routing file and saying precisely what is wrong with it, as `file:line: problem`."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import ValidationError

from ingestd.config.loader import ConfigError, Problem, locate, parse_toml, problems_from
from ingestd.routing.engine import Router
from ingestd.routing.matcher import KeywordIndex
from ingestd.routing.model import RoutingFile, Rule
from ingestd.routing.text import fold, fold_pattern


def load_router(path: Path) -> Router:
    """A Router from the file, or ConfigError listing every problem."""
    routing, problems = read(path)
    if problems or routing is None:
        raise ConfigError(problems)
    return Router(routing, source=str(path))


def check_routing(path: Path) -> list[Problem]:
    return read(path)[1]


def read(path: Path) -> tuple[RoutingFile | None, list[Problem]]:
    name = str(path)
    if not path.exists():
        return None, [Problem(name, None, "routing file not found")]
    text = path.read_text(encoding="utf-8")
    try:
        data = parse_toml(text, name)
        routing = RoutingFile.model_validate(data)
    except ConfigError as exc:
        return None, exc.problems
    except ValidationError as exc:
        return None, problems_from(exc, text, name)
    return routing, cross_check(routing, text, name)


def cross_check(routing: RoutingFile, text: str, name: str) -> list[Problem]:
    problems: list[Problem] = []

    def problem(loc: tuple[object, ...], message: str) -> None:
        problems.append(Problem(name, locate(text, loc), message))

    departments = [d.key for d in routing.departments]
    for i, key in enumerate(departments):
        if key in departments[:i]:
            problem(("departments", i, "key"), f"department {key!r} is defined more than once")
    category_keys = [c.key for c in routing.categories]
    for i, key in enumerate(category_keys):
        if key in category_keys[:i]:
            problem(("categories", i, "key"), f"category {key!r} is defined more than once")
    if departments and routing.default_department not in departments:
        problem(("default_department",), f"default_department {routing.default_department!r} is not a department")
    if len(set(routing.grades)) != len(routing.grades):
        problem(("grades",), "a grade is listed more than once")
    if routing.default_grade and routing.default_grade not in routing.grades:
        problem(("default_grade",), f"default_grade {routing.default_grade!r} is not one of grades")
    categories = {c.key for c in routing.categories}
    seen_names: dict[str, int] = {}
    stopped_by: Rule | None = None  # an earlier rule with no condition and `stop = true`: nothing after it runs
    for i, rule in enumerate(routing.rules):
        where = ("rules", i)
        label = f"rule {rule.name!r}"
        if rule.name in seen_names:
            problem((*where, "name"), f"{label}: duplicate rule name (also rule #{seen_names[rule.name] + 1})")
        seen_names.setdefault(rule.name, i)
        if rule.department and departments and rule.department not in departments:
            problem((*where, "department"), f"{label}: unknown department {rule.department!r}")
        if rule.category and categories and rule.category not in categories:
            problem((*where, "category"), f"{label}: unknown category {rule.category!r}")
        if rule.grade and rule.grade not in routing.grades:
            problem((*where, "grade"), f"{label}: unknown grade {rule.grade!r} (grades: {', '.join(routing.grades)})")
        for j, pattern in enumerate(rule.regex):
            try:
                re.compile(fold_pattern(pattern), re.IGNORECASE)
            except re.error as exc:
                problem((*where, "regex"), f"{label}: bad regular expression #{j + 1} {pattern!r}: {exc}")
        problems.extend(Problem(name, locate(text, (*where, key)), f"{label}: {msg}")
                        for key, msg in _never_fires(rule))
        for j, sender in enumerate(rule.sender):
            if "@" not in sender:
                problem((*where, "sender"), f"{label}: sender #{j + 1} {sender!r} is neither an address nor "
                                            "\"@domain\": it never matches")
        if stopped_by is not None:
            problem(where, f"{label}: can never fire: rule {stopped_by.name!r} before it has no condition and "
                           "`stop = true`")
        elif rule.stop and not _has_condition(rule):
            stopped_by = rule
        if not (rule.department or rule.category or rule.grade or rule.flags or rule.stop):
            problem(where, f"{label}: has no action (department, category, grade, flags or stop)")
    return problems


def _has_condition(rule: Rule) -> bool:
    return bool(rule.any or rule.all or rule.none or rule.regex or rule.sender or rule.mailbox or rule.attachment_any
                or rule.channel is not None or rule.repeat is not None)


def _contains(word: str, keyword: str) -> bool:
    """Would `keyword` be found in a text that contains `word`? (CJK anywhere, Latin as a whole word.)"""
    return bool(KeywordIndex([keyword]).find(word))


def _never_fires(rule: Rule) -> list[tuple[str, str]]:
    """Conditions that contradict each other, so that the rule can never fire."""
    out: list[tuple[str, str]] = []
    none = {fold(w).strip() for w in rule.none} - {""}
    for key in ("any", "all", "none", "attachment_any"):
        empty = [w for w in getattr(rule, key) if not fold(w).strip()]
        if empty:
            out.append((key, f"an empty keyword in `{key}`"))
    both = sorted({fold(w).strip() for w in rule.any} & none)
    if both:
        out.append(("none", f"keyword(s) {', '.join(both)} are in both `any` and `none`"
                            + (": the rule can never fire" if set(map(fold, rule.any)) <= none else "")))
    required = sorted({fold(w).strip() for w in rule.all} & none)
    if required:
        out.append(("none", f"keyword(s) {', '.join(required)} are in both `all` and `none`: the rule can never fire"))
    blocked_all = sorted(f"{w} (contains {n})" for w in {fold(w).strip() for w in rule.all} - none - {""}
                         for n in none if _contains(w, n))
    if blocked_all:
        out.append(("none", f"`all` keyword(s) {', '.join(blocked_all)} always bring a `none` keyword with them: "
                            "the rule can never fire"))
    positive_any = {fold(w).strip() for w in rule.any} - {""}
    if positive_any and all(any(_contains(w, n) for n in none) for w in positive_any) and not positive_any <= none:
        out.append(("none", "every `any` keyword contains a `none` keyword: the rule can never fire"))
    if not rule.fields and (rule.any or rule.all or rule.regex):
        out.append(("fields", "`fields` is empty: its keywords and regexes are never looked for"))
    return out
