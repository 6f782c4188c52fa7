"""A routing decision shown to a person: the outcome, the scores, every rule that fired, and the
matched words highlighted in the text."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ingestd.pipeline.items import Classification
from ingestd.routing.text import fold


def highlight(text: str, words: Iterable[str]) -> Text:
    """The original text with every (folded) match of `words` in bold yellow."""
    folded_chars = [fold(ch) for ch in text]
    folded = "".join(folded_chars)
    origin = [i for i, chunk in enumerate(folded_chars) for _ in chunk]
    rich = Text(text)
    for word in {w for w in words if w}:
        for m in re.finditer(re.escape(word), folded):
            if m.end() - 1 < len(origin):
                rich.stylize("bold yellow on dark_red", origin[m.start()], origin[m.end() - 1] + 1)
    return rich


def show(console: Console, decision: Classification, *, subject: str, description: str, title: str) -> None:
    console.rule(f"[bold]{title}")
    console.print(f"department [bold]{decision.department}[/]   category [bold]{decision.category or '-'}[/]   "
                  f"grade [bold]{decision.grade or '-'}[/]   flags {', '.join(decision.flags) or '-'}   "
                  f"(department decided by: {decision.decided_by})")
    table = Table(title="rules that fired, in order")
    for col in ("rule", "weight", "department", "score", "category", "grade", "flags", "matched"):
        table.add_column(col, overflow="fold")
    words: list[str] = []
    for hit in decision.rule_hits:
        matched = "; ".join(f"{f}: {', '.join(ws)}" for f, ws in hit["matched"].items())
        words += [w for f, ws in hit["matched"].items() if f != "sender" for w in ws]
        table.add_row(hit["rule"], f"{hit['weight']:g}", hit["department"] or "",
                      f"{hit.get('department_score', ''):g}" if hit.get("department_score") is not None else "",
                      hit["category"] or "", hit["grade"] or "", ", ".join(hit["flags"]),
                      matched + (" [stop]" if hit["stop"] else ""))
    scores = {h["department"]: h["department_score"] for h in decision.rule_hits if h.get("department_score")}
    if scores:
        console.print("department scores: " + ", ".join(f"{d} {s:g}" for d, s in sorted(
            scores.items(), key=lambda item: -item[1])), markup=False)
    if decision.rule_hits:
        console.print(table)
    else:
        console.print("no rule fired: default department and grade")
    console.print(Text("subject: ") + highlight(subject, words))
    console.print(Text("text:\n") + highlight(description[:3000], words))
