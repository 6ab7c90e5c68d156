"""Empty settings mean "unset" and every invalid setting names its variable, through a real ``liqmap run --once``
process (environment and ``.env`` file) and through ``load_settings``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.errors import LiqmapError
from bot.ops.settings_table import env_names

# Every setting except the three each run sets (the sim source, a data dir in tmp, health port 0): an empty value,
# as in many .env templates, must mean "unset" for all of them.
BASE = ("LIQMAP_SOURCE", "LIQMAP_DATA_DIR", "LIQMAP_HEALTH_PORT")
EMPTY_TEMPLATE = [name for name in env_names() if name not in BASE]


def liqmap_once(
    tmp_path: Path, env_extra: dict[str, str], dotenv: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``liqmap run --once`` as a real process on the sim market, with its data and cwd in ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQMAP_")}
    base = dict(zip(BASE, ("sim", str(tmp_path / "data"), "0"), strict=True))
    in_dotenv = {line.split("=", 1)[0] for line in (dotenv or "").splitlines()}
    env.update({k: v for k, v in base.items() if k not in in_dotenv})  # the environment would win over .env
    env.update(env_extra)
    if dotenv is not None:
        (tmp_path / ".env").write_text(dotenv, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "bot", "run", "--once"], cwd=tmp_path, env=env, text=True, capture_output=True,
        timeout=240,
    )


def assert_clean_success(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "InvalidToken" not in proc.stderr, proc.stderr[-3000:]
    assert "Telegram is off" in proc.stderr and "Discord is off" in proc.stderr  # empty tokens = not configured


def test_empty_variables_in_the_environment_are_unset(tmp_path: Path) -> None:
    assert_clean_success(liqmap_once(tmp_path, dict.fromkeys(EMPTY_TEMPLATE, "")))


def test_empty_variables_in_a_dotenv_file_are_unset(tmp_path: Path) -> None:
    dotenv = "".join(f"{name}=\n" for name in EMPTY_TEMPLATE)
    assert_clean_success(liqmap_once(tmp_path, {}, dotenv=dotenv))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIQMAP_EXCHANGE_API_KEYS", "not json"),
        ("LIQMAP_EXCHANGE_API_SECRETS", '{"binanceusdm": "half-a-secret'),
        ("LIQMAP_EXCHANGE_API_KEYS", '{"binanceusdm": 5}'),
        ("LIQMAP_DISCORD_DEV_GUILD", "my-guild"),
        ("LIQMAP_TICK_SECONDS", "nan"),
        ("LIQMAP_HEALTH_PORT", "99999"),
        ("LIQMAP_TELEGRAM_MODE", "push"),
    ],
)
def test_a_bad_value_names_its_variable_on_one_line(tmp_path: Path, name: str, value: str) -> None:
    for where in ("env", "dotenv"):
        run_dir = tmp_path / where
        run_dir.mkdir()
        proc = (liqmap_once(run_dir, {name: value}) if where == "env"
                else liqmap_once(run_dir, {}, dotenv=f"{name}={value}\n"))
        assert proc.returncode == 2, (where, proc.stderr[-2000:])
        lines = [line for line in proc.stderr.splitlines() if line.startswith("liqmap:")]
        assert len(lines) == 1 and name in lines[0], (where, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr and "pydantic" not in proc.stderr.lower()
        if value not in ("nan", "push", "99999", "my-guild"):
            assert value not in lines[0]  # key material is never echoed


def test_load_settings_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in env_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LIQMAP_EXCHANGE_API_SECRETS", '{"okx": ["s3cr3t-value"]}')
    with pytest.raises(LiqmapError) as info:
        load_settings()
    text = str(info.value)
    assert "LIQMAP_EXCHANGE_API_SECRETS" in text and "okx" in text and "s3cr3t" not in text and "\n" not in text
    monkeypatch.delenv("LIQMAP_EXCHANGE_API_SECRETS")
    (tmp_path / ".env").write_bytes(b"LIQMAP_SIM_SEED=\xff\n")
    with pytest.raises(LiqmapError, match=r"\.env file is not UTF-8"):
        load_settings()


def test_empty_means_default_for_every_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in env_names():
        monkeypatch.delenv(name, raising=False)
    defaults = load_settings()
    for name in env_names():
        monkeypatch.setenv(name, "")
    assert load_settings() == defaults
