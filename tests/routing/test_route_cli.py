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
    out = ingestd(tmp_path, "route", "--explain", str(SAMPLES / "16-lawsuit-compensation.eml"))
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
    assert moved["events"][-1]["kind"] == "case.rerouted"
    assert moved["events"][-1]["detail"]["before"]["department"] == "billing"
    explained = ingestd(tmp_path, "route", "--explain", moved["case_no"])
    assert "department legal" in explained.stdout and f"{moved['case_no']} (stored: legal" in explained.stdout
