"""`ingestd route --explain` and `--replay` as an admin uses them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.routing.helpers import SHIPPED
from tests.test_cli import ingestd

SAMPLES = Path(__file__).resolve().parents[2] / "ingestd" / "samples" / "mail"


def setup_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "config"
    cfg.mkdir()
    shutil.copy(SHIPPED, cfg / "routing.toml")
    (cfg / "ingestd.toml").write_text('[routing]\nfile = "routing.toml"\n')
    return cfg


def test_explain_a_file_shows_fired_rules_and_stores_nothing(tmp_path: Path) -> None:
    """Given the shipped rules, when a sample is explained, then the decision and the rules that fired with
    their matched words are printed, and no register is created."""
    setup_config(tmp_path)
    out = ingestd(tmp_path, "route", "--explain", str(SAMPLES / "16-lawsuit-compensation.eml"), process=True)
    assert out.returncode == 0, out.stderr
    assert "department legal" in out.stdout and "grade 重大" in out.stdout
    assert "lawsuit-threat" in out.stdout and "律师" in out.stdout and "large-compensation" in out.stdout
    assert not (tmp_path / "var").exists()


def test_replay_shows_changes_and_applies_only_when_asked(tmp_path: Path) -> None:
    """Given cases routed by the shipped rules, when a rule is changed and replayed, then the table shows
    what would change and nothing changes; with --apply the cases change and a case.rerouted event is logged;
    cases explained by number use the stored case."""
    cfg = setup_config(tmp_path)
    assert ingestd(tmp_path, "ingest", str(SAMPLES)).returncode == 0
    rules = cfg / "routing.toml"
    rules.write_text(rules.read_text().replace('department = "billing"\ncategory = "billing_error"',
                                               'department = "legal"\ncategory = "billing_error"'))
    dry = ingestd(tmp_path, "route", "--replay", "--since", "2020-01-01")
    assert dry.returncode == 0, dry.stderr
    assert "billing → legal" in dry.stdout and "would change" in dry.stdout
    export = [json.loads(line) for line in ingestd(tmp_path, "cases", "export").stdout.splitlines()]
    billing = [c for c in export if c["department"] == "billing"]
    assert billing and all(c["rule_hits"] for c in billing)
    applied = ingestd(tmp_path, "route", "--replay", "--since", "2020-01-01", "--apply")
    assert "changed" in applied.stdout
    export = [json.loads(line) for line in ingestd(tmp_path, "cases", "export").stdout.splitlines()]
    moved = next(c for c in export if c["case_no"] == billing[0]["case_no"])
    assert moved["department"] == "legal"
    rerouted = [e for e in moved["events"] if e["kind"] == "case.rerouted"]
    assert len(rerouted) == 1 and rerouted[0]["detail"]["before"]["department"] == "billing"
    assert [e["detail"]["department"] for e in moved["events"] if e["kind"] == "department.notified"][-1] == "legal"
    # the department that now holds the case hears of it, once: a "rerouted" notification to its inbox
    assert "department notification(s) sent" in applied.stdout
    notes = [p.read_bytes() for p in (tmp_path / "var" / "outbox").glob(f"*-{moved['case_no']}-notify-*.eml")]
    to_legal = [n for n in notes if b"\nTo: " in n and b"<legal@huadong.example>" in n]
    assert len(to_legal) == 1, [n[:300] for n in notes]
    again = ingestd(tmp_path, "route", "--replay", "--since", "2020-01-01", "--apply")
    assert "0 of" in again.stdout and "notification" not in again.stdout
    explained = ingestd(tmp_path, "route", "--explain", moved["case_no"])
    assert "department legal" in explained.stdout and f"{moved['case_no']} (stored: legal" in explained.stdout


def test_highlight_marks_the_original_characters_of_folded_matches() -> None:
    """Given a Traditional, full-width text and the Simplified, half-width words that matched, when highlighted,
    then exactly the original characters are styled."""
    from ingestd.routing.explain import highlight

    text = highlight("包裹損壞了，要求ＲＥＦＵＮＤ", ["损坏", "refund"])
    marked = sorted(text.plain[span.start:span.end] for span in text.spans)
    assert marked == ["損壞", "ＲＥＦＵＮＤ"]


def test_explain_prints_scores_and_rules_for_an_english_file(tmp_path: Path) -> None:
    """Given the shipped rules and an English .eml, when explained, then the department scores, the fired rules
    and their matched words are printed, and the exit code is 0."""
    setup_config(tmp_path)
    eml = tmp_path / "m.eml"
    eml.write_bytes(b"From: Ann <ann@example.com>\r\nTo: desk@example.com\r\nSubject: Parcel damaged\r\n"
                    b"Message-ID: <x1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                    b"The courier threw my parcel over the fence and the lamp inside is broken.\r\n")
    out = ingestd(tmp_path, "route", "--explain", str(eml))
    assert out.returncode == 0, out.stderr
    assert "department logistics" in out.stdout and "category damaged_goods" in out.stdout
    assert "department scores: logistics 22" in out.stdout
    assert "delivery-delay" in out.stdout and "damaged-goods" in out.stdout and "broken" in out.stdout


def test_replay_knows_repeat_complainants_and_explains_by_case_number(tmp_path: Path) -> None:
    """Given two cases from one complainant ingested under the shipped rules, when the repeat rule is made to
    raise the grade and the cases are replayed, then only the second case would change (it was a repeat
    complainant when it came in), and nothing changes without --apply."""
    from tests.mail import complaint

    cfg = setup_config(tmp_path)
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "1.eml").write_bytes(complaint(subject="快递延误", message_id="a1@example.com"))
    (inbox / "2.eml").write_bytes(complaint(subject="电饭煲内胆涂层脱落", message_id="a2@example.com",  # another matter
                                            body="买的电饭煲用了两次就坏了。电话：13800138000\n"))
    assert ingestd(tmp_path, "ingest", str(inbox / "1.eml")).returncode == 0
    assert ingestd(tmp_path, "ingest", str(inbox / "2.eml")).returncode == 0
    export = [json.loads(line) for line in ingestd(tmp_path, "cases", "export").stdout.splitlines()]
    first, second = sorted(export, key=lambda c: c["case_no"])
    assert "repeat_complainant" in second["flags"] and "repeat_complainant" not in first["flags"]
    assert "repeat" not in second["flags"]  # the same person, but not the same matter: no 二次投诉
    rules = cfg / "routing.toml"
    rules.write_text(rules.read_text().replace('repeat = true\ngrade = "一般"', 'repeat = true\ngrade = "重大"'))
    dry = ingestd(tmp_path, "route", "--replay", "--since", "2000-01-01")
    assert dry.returncode == 0, dry.stderr
    assert "1 of 2 cases would change" in dry.stdout and second["case_no"] in dry.stdout
    assert "一般 → 重大" in dry.stdout and first["case_no"] not in dry.stdout
    after = [json.loads(line) for line in ingestd(tmp_path, "cases", "export").stdout.splitlines()]
    assert sorted(after, key=lambda c: c["case_no"])[1]["grade"] == "一般"  # dry run: nothing stored
    explained = ingestd(tmp_path, "route", "--explain", second["case_no"])
    assert "grade 重大" in explained.stdout and "repeat-complainant" in explained.stdout
