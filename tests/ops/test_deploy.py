"""The deploy files agree with the code: every setting is documented, the compose file names only real settings,
the Dockerfile runs non-root with a /data volume, a health check and ``liqmap run``. (No Docker engine here: the
image itself is not built by the tests.)"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from bot.config import Settings
from bot.ops.settings_table import env_names, settings_table

ROOT = Path(__file__).resolve().parents[2]
NOT_SETTINGS = {"LIQMAP_DEBUG", "LIQMAP_ALEMBIC_DIR"}  # read by the CLI / migrations directly, documented apart


def test_every_setting_has_a_row_in_the_generated_table() -> None:
    table = settings_table()
    assert len(env_names()) == len(Settings.model_fields) >= 20
    for name in env_names():
        assert re.search(rf"^\| `{name}` \| .+ \| .+ \|$", table, re.M), name
    assert "| `LIQMAP_TICK_SECONDS` | `60` |" in table and "| `LIQMAP_TELEGRAM_TOKEN` | — |" in table


@pytest.mark.parametrize("doc", ["docs/operations.md", "README.md"])
def test_docs_contain_the_settings_table_generated_from_the_code(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    assert settings_table() in text, (
        f"{doc}: the settings table is missing or out of date; paste the output of `python -m bot.ops.settings_table`"
    )


def test_env_example_mentions_every_setting_and_nothing_else() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assigned = set(re.findall(r"^#?\s*(LIQMAP_[A-Z0-9_]+)=", text, re.M))
    assert set(env_names()) <= assigned, f"missing from .env.example: {sorted(set(env_names()) - assigned)}"
    assert assigned <= set(env_names()), f"not settings: {sorted(assigned - set(env_names()))}"
    Settings(_env_file=ROOT / ".env.example")  # type: ignore[call-arg]  # the uncommented values are valid


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_file_is_the_bot_plus_postgres_with_named_volumes_and_loopback_ports() -> None:
    c = compose()
    services = c["services"]
    assert set(services) == {"bot", "db"}
    assert services["db"]["image"] == "postgres:16"
    named = set(c["volumes"])
    for svc in services.values():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"port {port} is not bound to 127.0.0.1"
        for vol in svc.get("volumes", []):
            assert vol.split(":")[0] in named, f"{vol} is not a named volume"
        assert "healthcheck" in svc
    bot = services["bot"]
    assert bot["env_file"] == ".env" and bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert "botdata:/data" in bot["volumes"]
    assert bot["healthcheck"]["test"] == ["CMD", "python", "-m", "bot.ops.healthcheck"]


def test_compose_environment_names_only_real_settings_and_points_at_the_db_service() -> None:
    services = compose()["services"]
    env = services["bot"]["environment"]
    assert set(env) <= set(env_names()), f"not settings: {sorted(set(env) - set(env_names()))}"
    url = urlsplit(env["LIQMAP_DATABASE_URL"].replace("${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}", "pw"))
    db_env = services["db"]["environment"]
    assert url.scheme == "postgresql+psycopg" and url.hostname == "db" and url.port == 5432
    assert url.username == db_env["POSTGRES_USER"] and url.path == f"/{db_env['POSTGRES_DB']}"
    published = services["bot"]["ports"][0].split(":")
    assert published[-1] == str(env["LIQMAP_HEALTH_PORT"]) and env["LIQMAP_HEALTH_HOST"] == "0.0.0.0"
    Settings(
        _env_file=None,
        **{
            k.removeprefix("LIQMAP_").lower(): "x" if "${" in v else v  # type: ignore[arg-type]
            for k, v in env.items()
        },
    )


def dockerfile_runtime_stage() -> list[str]:
    lines = [ln.strip() for ln in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()]
    froms = [i for i, ln in enumerate(lines) if ln.upper().startswith("FROM ")]
    assert len(froms) >= 2, "the Dockerfile should be multi-stage"
    return [ln for ln in lines[froms[-1] :] if ln and not ln.startswith("#")]


def test_dockerfile_runtime_is_non_root_with_data_volume_healthcheck_and_liqmap_run() -> None:
    stage = dockerfile_runtime_stage()
    text = "\n".join(stage)
    users = [ln.split()[1] for ln in stage if ln.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
    assert re.search(r'^VOLUME \["?/data"?\]', text, re.M)
    assert "LIQMAP_DATA_DIR=/data" in text
    health = [ln for ln in stage if ln.startswith("HEALTHCHECK ")]
    assert health and "bot.ops.healthcheck" in health[0]
    assert stage[-1] == 'CMD ["liqmap", "run"]'
    envs = set(re.findall(r"\b(LIQMAP_[A-Z0-9_]+)=", (ROOT / "Dockerfile").read_text(encoding="utf-8")))
    assert envs <= set(env_names()) | NOT_SETTINGS


def test_dockerfile_installs_dependencies_before_copying_the_source() -> None:
    lines = (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
    dep = next(i for i, ln in enumerate(lines) if ln.startswith("COPY pyproject.toml"))
    install = next(i for i, ln in enumerate(lines) if "pip install ." in ln)
    source = next(i for i, ln in enumerate(lines) if ln.startswith("COPY bot "))
    assert dep < install < source
