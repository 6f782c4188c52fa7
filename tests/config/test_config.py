"""Config: defaults, strict validation, and problems reported as `file:line: what is wrong`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ingestd.config import ConfigError, load
from ingestd.config.check import check
from ingestd.config.model import Secret

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ingestd.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_is_valid() -> None:
    """Given the shipped config/ingestd.toml, when checked, then there is no problem."""
    assert check(REPO / "config" / "ingestd.toml") == []


def test_unknown_key_is_an_error_with_its_line(tmp_path: Path) -> None:
    """Given a typo'd key on line 3, when loaded, then the error names the file, line 3 and the key."""
    path = write(tmp_path, '[store]\ndatabase_url = "sqlite:///x.db"\ndatabse_url = "oops"\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert [str(p) for p in err.value.problems] == [f"{path}:3: unknown key 'store.databse_url'"]


def test_bad_values_point_at_their_lines(tmp_path: Path) -> None:
    """Given a bad pattern, a bad time zone and a bad folder entry, when checked, then each is reported at its line."""
    path = write(tmp_path, "\n".join([
        "[store]",
        'case_number_pattern = "TS-{yyyy}"',
        'timezone = "Mars/Olympus"',
        "",
        "[[sources.folders]]",
        'name = "a"',
        'path = "var/a"',
        "",
        "[[sources.folders]]",
        'name = "b"',
        'path = "var/b"',
        "poll_seconds = -1",
    ]) + "\n")
    problems = {p.line: p.message for p in check(path)}
    assert "exactly one {seq}" in problems[2]
    assert "unknown time zone" in problems[3]
    assert "sources.folders.1.poll_seconds" in problems[12]


def test_toml_syntax_error_has_a_line(tmp_path: Path) -> None:
    """Given broken TOML on line 2, when checked, then the problem is reported at line 2."""
    path = write(tmp_path, '[store]\ndatabase_url = "unterminated\n')
    (problem,) = check(path)
    assert problem.line == 2 and "TOML syntax" in problem.message


def test_check_config_command_exits_2_and_prints_file_line(tmp_path: Path) -> None:
    """Given an invalid config, when `ingestd check-config` runs, then it prints file:line problems and exits 2."""
    path = write(tmp_path, "[intake]\nbatch_size = 0\n")
    proc = subprocess.run([sys.executable, "-m", "ingestd", "--config", str(path), "check-config"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"{path}:2: intake.batch_size" in proc.stderr


def test_secrets_come_from_env_or_file_and_never_print(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given secrets in an env var and a file, when revealed, then the values come back; repr shows only where."""
    monkeypatch.setenv("DESK_PW", "hunter2")
    secret_file = tmp_path / "pw"
    secret_file.write_text("s3cret\n")
    assert Secret(env="DESK_PW").reveal() == "hunter2"
    assert Secret(file=secret_file).reveal() == "s3cret"
    assert Secret(command="echo tok").reveal() == "tok"
    assert "hunter2" not in repr(Secret(env="DESK_PW"))
    with pytest.raises(ValueError):
        Secret(env="A", file=secret_file)


def test_no_config_file_means_builtin_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given no --config, no INGESTD_CONFIG and no ./config/ingestd.toml, when loaded, then defaults apply."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INGESTD_CONFIG", raising=False)
    loaded = load(None)
    assert loaded.path is None
    assert loaded.settings.store.database_url == "sqlite:///var/ingestd.db"
