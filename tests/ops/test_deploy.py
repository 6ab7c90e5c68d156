"""The deploy files agree with the code: every setting is documented, the compose file passes every setting and
nothing else to the bot, the Dockerfile runs as a numeric non-root user with a /data volume, a health check and
``liqmap run`` from a pinned base and the pinned dependency set. These are static checks; ``.ci/docker.sh`` builds
the image and runs it and the compose file for real where a Docker engine can run."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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


COMPOSE_VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}")


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}`` against ``env`` (what .env would give)."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if env.get(name):
            return env[name]
        if op == "?":
            raise AssertionError(f"{name} required: {arg}")
        return arg if op == "-" else ""

    return COMPOSE_VAR.sub(one, value)


def test_compose_file_is_the_bot_plus_postgres_with_named_volumes_and_loopback_ports() -> None:
    c = compose()
    services = c["services"]
    assert set(services) == {"bot", "db"}
    assert services["db"]["image"].startswith("postgres:16")
    named = set(c["volumes"])
    for svc in services.values():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"port {port} is not bound to 127.0.0.1"
        for vol in svc.get("volumes", []):
            assert vol.split(":")[0] in named, f"{vol} is not a named volume"
        assert "healthcheck" in svc
    bot = services["bot"]
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert "botdata:/data" in bot["volumes"]
    assert bot["healthcheck"]["test"] == ["CMD", "python", "-m", "bot.ops.healthcheck"]


def test_compose_database_publishes_no_port_and_is_checked_over_tcp() -> None:
    db = compose()["services"]["db"]
    assert "ports" not in db, "the bot reaches the database on the compose network; a host port only collides"
    test = db["healthcheck"]["test"]
    command = " ".join(test[1:]) if test[0] in {"CMD", "CMD-SHELL"} else " ".join(test)
    assert re.search(r"pg_isready .*-h 127\.0\.0\.1\b", command), "pg_isready without -h checks only the socket"
    assert "-U liqmap" in command and "-d liqmap" in command


def test_compose_builds_the_bot_and_never_pulls_it() -> None:
    bot = compose()["services"]["bot"]
    assert bot["build"] == "."
    assert "image" not in bot or bot.get("pull_policy") == "build", "`docker compose pull` would look for the image"


def test_compose_gives_the_bot_every_setting_and_nothing_else() -> None:
    """No ``env_file``: .env holds POSTGRES_PASSWORD too. Every setting is listed under ``environment`` instead."""
    services = compose()["services"]
    bot = services["bot"]
    assert "env_file" not in bot, "env_file hands every .env variable (POSTGRES_PASSWORD too) to the bot"
    env = bot["environment"]
    assert set(env) == set(env_names()), (
        f"missing: {sorted(set(env_names()) - set(env))}, not settings: {sorted(set(env) - set(env_names()))}"
    )


def test_compose_environment_is_valid_and_points_at_the_db_service() -> None:
    services = compose()["services"]
    env = services["bot"]["environment"]
    db_env = services["db"]["environment"]
    assert db_env["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    values = {k: interpolate(str(v), {"POSTGRES_PASSWORD": "pw"}) for k, v in env.items()}
    url = urlsplit(values["LIQMAP_DATABASE_URL"])
    assert url.scheme == "postgresql+psycopg" and url.hostname == "db" and url.port == 5432
    assert url.username == db_env["POSTGRES_USER"] and url.password == "pw" and url.path == f"/{db_env['POSTGRES_DB']}"
    assert values["LIQMAP_HEALTH_HOST"] == "0.0.0.0" and values["LIQMAP_DATA_DIR"] == "/data"
    published = services["bot"]["ports"][0].split(":")
    assert published[-1] == values["LIQMAP_HEALTH_PORT"]
    # With an empty .env every value is a setting's default or empty (= unset): the bot starts.
    Settings(_env_file=None, **{k.removeprefix("LIQMAP_").lower(): v for k, v in values.items() if v})  # type: ignore[arg-type]


def dockerfile_lines() -> list[str]:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()


def dockerfile_runtime_stage() -> list[str]:
    lines = [ln.strip() for ln in dockerfile_lines()]
    froms = [i for i, ln in enumerate(lines) if ln.upper().startswith("FROM ")]
    assert len(froms) >= 2, "the Dockerfile should be multi-stage"
    return [ln for ln in lines[froms[-1] :] if ln and not ln.startswith("#")]


def test_dockerfile_runtime_is_non_root_with_data_volume_healthcheck_and_liqmap_run() -> None:
    stage = dockerfile_runtime_stage()
    text = "\n".join(stage)
    users = [ln.split()[1] for ln in stage if ln.startswith("USER ")]
    assert users, "no USER"
    # Numeric uid:gid: Kubernetes' runAsNonRoot cannot check a user name.
    assert re.fullmatch(r"[0-9]+(:[0-9]+)?", users[-1]), f"USER {users[-1]} is not numeric"
    assert int(users[-1].split(":")[0]) != 0
    assert re.search(r'^VOLUME \["?/data"?\]', text, re.M)
    assert "LIQMAP_DATA_DIR=/data" in text
    # Inside the container: `docker run -p ...` reaches the health server only when it binds every address.
    assert "LIQMAP_HEALTH_HOST=0.0.0.0" in text
    health = [ln for ln in stage if ln.startswith("HEALTHCHECK ")]
    assert health and "bot.ops.healthcheck" in health[0]
    assert stage[-1] == 'CMD ["liqmap", "run"]'
    envs = set(re.findall(r"\b(LIQMAP_[A-Z0-9_]+)=", "\n".join(dockerfile_lines())))
    assert envs <= set(env_names()) | NOT_SETTINGS


def test_dockerfile_needs_no_registry_but_its_base_which_is_pinned() -> None:
    lines = dockerfile_lines()
    assert not any(re.match(r"#\s*syntax\s*=", ln) for ln in lines), "a syntax line makes BuildKit pull a frontend"
    arg = next(ln for ln in lines if ln.startswith("ARG PYTHON_IMAGE="))
    base = arg.split("=", 1)[1]
    # A Python minor version and a Debian release (not a floating python:3.11-slim); .ci/docker.sh reads this name.
    assert re.fullmatch(r"python:3\.11(\.[0-9]+)?-slim-(bookworm|trixie)", base), base
    froms = [ln.split()[1] for ln in lines if ln.upper().startswith("FROM ")]
    assert froms and all(f == "${PYTHON_IMAGE}" for f in froms), froms
    # python3, which a Debian-built base has too (the official image also has `python`).
    assert any("python3 -m venv" in ln for ln in lines)


def test_dockerfile_installs_the_locked_dependencies_before_copying_the_source() -> None:
    lines = dockerfile_lines()
    lock = next(i for i, ln in enumerate(lines) if ln.startswith("COPY requirements.lock"))
    install = next(i for i, ln in enumerate(lines) if re.search(r"pip install .*-r requirements\.lock", ln))
    source = next(i for i, ln in enumerate(lines) if ln.startswith("COPY bot "))
    package = next(i for i, ln in enumerate(lines) if re.search(r"pip install .*--no-deps \.", ln))
    assert lock < install < source <= package
    assert "pip check" in lines[package]
    # The migrations ship inside the package (bot/storage/migrations/): nothing copies or points at an alembic/ dir.
    assert not any("alembic" in ln.lower() for ln in dockerfile_lines() if not ln.startswith("#"))
    assert "WORKDIR /app" in dockerfile_runtime_stage()


def test_lock_file_pins_everything_and_satisfies_pyproject() -> None:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)(\s*;.*)?", line)
        assert m, f"requirements.lock: not a pin: {line}"
        pins[canonicalize_name(m.group(1))] = m.group(2)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for spec in project["dependencies"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements.lock: regenerate it (command in its header)"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {req.name}=={pins[name]}, pyproject.toml asks {spec}: regenerate the lock file"
        )


def test_env_example_leaves_the_image_defaults_alone() -> None:
    """`docker run --env-file .env` (a copy of .env.example) keeps the image's /data and 0.0.0.0."""
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in ("LIQMAP_DATA_DIR", "LIQMAP_HEALTH_HOST", "LIQMAP_HEALTH_PORT", "LIQMAP_DATABASE_URL"):
        assert not re.search(rf"^{name}=", text, re.M), f"{name} is set in .env.example"


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build_context() -> None:
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".env", ".git", "data", "tests"} <= ignored
    assert any(p.startswith(".venv") for p in ignored)
