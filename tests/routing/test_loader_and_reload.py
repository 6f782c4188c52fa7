"""The routing file: problems reported at their lines, and hot reload that refuses bad edits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingestd.config.loader import ConfigError
from ingestd.routing.loader import check_routing, load_router
from ingestd.routing.reload import ReloadingRouter
from tests.routing.helpers import SHIPPED, parsed

GOOD = '''grades = ["major", "minor"]
default_department = "desk"
[[departments]]
key = "desk"
[[departments]]
key = "ops"
[[rules]]
name = "late"
any = ["late"]
department = "ops"
'''


def test_the_shipped_routing_file_is_valid() -> None:
    """Given config/routing.toml, when checked, then there is no problem."""
    assert check_routing(SHIPPED) == []


def test_every_kind_of_mistake_is_reported_at_its_line(tmp_path: Path) -> None:
    """Given a routing file with an unknown department, a bad regex, a duplicate rule name, a keyword in both
    any and none, a rule that can never fire and an unknown grade, when checked, then each problem names
    its line."""
    path = tmp_path / "routing.toml"
    path.write_text("\n".join([
        'grades = ["major", "minor"]',       # 1
        'default_department = "desk"',       # 2
        "[[departments]]",                   # 3
        'key = "desk"',                      # 4
        "[[rules]]",                         # 5
        'name = "a"',                        # 6
        'department = "nowhere"',            # 7
        "[[rules]]",                         # 8
        'name = "a"',                        # 9
        "regex = ['(unclosed']",             # 10
        'grade = "major"',                   # 11
        "[[rules]]",                         # 12
        'name = "c"',                        # 13
        'any = ["refund"]',                  # 14
        'none = ["REFUND"]',                 # 15
        'grade = "huge"',                    # 16
        "[[rules]]",                         # 17
        'name = "d"',                        # 18
        'all = ["x"]',                       # 19
        'none = ["x"]',                      # 20
        'flags = ["f"]',                     # 21
    ]) + "\n")
    problems = {(p.line, p.message) for p in check_routing(path)}
    lines = {line: msg for line, msg in problems}
    assert "unknown department 'nowhere'" in lines[7]
    assert "duplicate rule name" in lines[9]
    assert "bad regular expression" in lines[10]
    assert "in both `any` and `none`: the rule can never fire" in lines[15]
    assert "unknown grade 'huge'" in lines[16]
    assert "in both `all` and `none`: the rule can never fire" in lines[20]
    assert all(str(p).startswith(f"{path}:") for p in check_routing(path))


def test_unknown_keys_are_errors(tmp_path: Path) -> None:
    """Given a typo'd rule key, when loaded, then loading fails with the key and its line."""
    path = tmp_path / "routing.toml"
    path.write_text(GOOD + "wieght = 3\n")
    with pytest.raises(ConfigError) as err:
        load_router(path)
    assert str(err.value.problems[0]) == f"{path}:11: unknown key 'rules.0.wieght'"


def test_hot_reload_takes_good_edits_and_refuses_bad_ones(tmp_path: Path) -> None:
    """Given rules in force, when the file is edited well, then the new rules apply at the next check; when
    it is then broken, the last good rules stay in force."""
    path = tmp_path / "routing.toml"
    path.write_text(GOOD)
    holder = ReloadingRouter(path)
    assert holder.classify(parsed("late again")).department == "ops"
    path.write_text(GOOD.replace('department = "ops"', 'department = "desk"'))
    assert holder.check() is True
    assert holder.classify(parsed("late again")).department == "desk"
    path.write_text(GOOD.replace('department = "ops"', 'department = "nowhere"'))
    assert holder.check() is False
    assert holder.classify(parsed("late again")).department == "desk"
    assert holder.check() is False  # the same bad edit is not re-read and re-logged


def test_hot_reload_in_the_running_daemon_within_5_seconds(tmp_path: Path) -> None:
    """Given `run_forever` with a routing file, when the file is edited, then a case taken 5 s later uses
    the new rules."""
    import threading

    from ingestd.app import build_app
    from ingestd.config import LoadedConfig
    from ingestd.daemon import run_forever
    from tests.conftest import make_settings
    from tests.mail import complaint

    path = tmp_path / "routing.toml"
    path.write_text(GOOD)
    settings = make_settings(f"sqlite:///{tmp_path}/db.sqlite", tmp_path / "var",
                             routing={"file": str(path), "reload_seconds": 0.5})
    app = build_app(LoadedConfig(settings, None))
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(app,), kwargs={"stop": stop}, daemon=True)
    thread.start()
    try:
        from ingestd.pipeline.items import RawInput

        assert app.intake.take(RawInput(complaint(subject="late", body="late"), "t")).case_no
        path.write_text(GOOD.replace('department = "ops"', 'department = "desk"').replace('"late"]', '"late", "slow"]'))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "slow" not in app.router.router.index.keywords:
            time.sleep(0.1)
        outcome = app.intake.take(RawInput(complaint(subject="slow", body="slow"), "t"))
        with app.db.read() as session:
            from sqlmodel import select

            from ingestd.store.models import Case
            case = session.exec(select(Case).where(Case.case_no == outcome.case_no)).one()
        assert case.department == "desk"
    finally:
        stop.set()
        thread.join(timeout=15)
        app.close()


def test_rules_that_can_never_fire_and_duplicates_are_reported_at_their_lines(tmp_path: Path) -> None:
    """Given a duplicate department, a sender that is no address, a `none` keyword inside an `all` keyword,
    `any` keywords that all contain a `none` keyword, and a rule after an unconditional stop, when checked,
    then each problem names its line."""
    path = tmp_path / "routing.toml"
    path.write_text("\n".join([
        'grades = ["major", "minor"]',          # 1
        'default_department = "desk"',          # 2
        "[[departments]]",                      # 3
        'key = "desk"',                         # 4
        "[[departments]]",                      # 5
        'key = "desk"',                         # 6
        "[[rules]]",                            # 7
        'name = "s"',                           # 8
        'sender = ["shop.example"]',            # 9
        'department = "desk"',                  # 10
        "[[rules]]",                            # 11
        'name = "inside"',                      # 12
        'all = ["退款未到账", "发票"]',           # 13
        'none = ["未到账"]',                     # 14
        'grade = "major"',                      # 15
        "[[rules]]",                            # 16
        'name = "anys"',                        # 17
        'any = ["late delivery", "迟到"]',       # 18
        'none = ["late", "到"]',                # 19
        'grade = "major"',                      # 20
        "[[rules]]",                            # 21
        'name = "latin-ok"',                    # 22
        'any = ["refunded"]',                   # 23
        'none = ["refund"]',                    # 24
        'grade = "major"',                      # 25
        "[[rules]]",                            # 26
        'name = "catch-all"',                   # 27
        "stop = true",                          # 28
        "[[rules]]",                            # 29
        'name = "after"',                       # 30
        'any = ["x"]',                          # 31
        'grade = "minor"',                      # 32
    ]) + "\n")
    lines = {p.line: p.message for p in check_routing(path)}
    assert "department 'desk' is defined more than once" in lines[6]
    assert "'shop.example' is neither an address" in lines[9]
    assert "退款未到账 (contains 未到账)" in lines[14] and "never fire" in lines[14]
    assert "every `any` keyword contains a `none` keyword" in lines[19]
    assert "can never fire: rule 'catch-all'" in lines[29]
    assert set(lines) == {6, 9, 14, 19, 29}  # "refunded" does not contain the whole word "refund"; stop is an action


def test_the_check_config_command_reports_routing_problems(tmp_path: Path) -> None:
    """Given ingestd.toml naming a routing file with a bad regex, when `ingestd check-config` runs, then it
    prints the routing file's `file:line: problem` and exits 2; once fixed it says config OK."""
    from tests.test_cli import ingestd

    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "ingestd.toml").write_text('[routing]\nfile = "routing.toml"\n')
    (cfg / "routing.toml").write_text(GOOD + "regex = ['[unclosed']\n")
    out = ingestd(tmp_path, "check-config")
    assert out.returncode == 2
    assert f"{Path('config') / 'routing.toml'}:11: rule 'late': bad regular expression #1" in out.stderr
    (cfg / "routing.toml").write_text(GOOD)
    out = ingestd(tmp_path, "check-config")
    assert out.returncode == 0 and "config OK" in out.stdout, out.stderr


def test_a_refused_edit_logs_one_error_and_a_fix_is_taken(tmp_path: Path) -> None:
    """Given rules in force, when the file is broken and checked three times, then one error is logged naming
    the file and line; when it is then fixed, the fix takes effect."""
    from loguru import logger

    path = tmp_path / "routing.toml"
    path.write_text(GOOD)
    holder = ReloadingRouter(path)
    errors: list[str] = []
    sink = logger.add(lambda m: errors.append(str(m)), level="ERROR", format="{message}")
    try:
        path.write_text(GOOD + "weight = -1\n")
        assert [holder.check() for _ in range(3)] == [False, False, False]
        assert len(errors) == 1 and f"{path}:11:" in errors[0] and "weight" in errors[0]
        path.write_text(GOOD.replace('any = ["late"]', 'any = ["slow"]'))
        assert holder.check() is True
        assert holder.classify(parsed("slow")).department == "ops"
        assert holder.classify(parsed("late")).department == "desk"
        path.unlink()  # an editor replacing the file: no file for a moment is not an edit
        assert holder.check() is False and holder.classify(parsed("slow")).department == "ops"
    finally:
        logger.remove(sink)
