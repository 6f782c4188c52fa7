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
