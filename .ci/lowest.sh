#!/usr/bin/env bash
# Proves the dependency floors in pyproject.toml: installs liqmap with the LOWEST version of every direct
# dependency that pyproject allows (uv's --resolution lowest-direct; transitive ones resolve as usual) into a
# separate venv, then imports every module and runs a fast subset of the tests that exercises each library we
# use (settings, chat parser and service, model, storage and migrations, ccxt against the exchange stand-in,
# rendering, Telegram and Discord against their stand-ins). Exits non-zero on any failure.
#
#   bash .ci/lowest.sh            # venv in .venv-lowest, made afresh each run (uv's cache keeps that quick)
#   LOWEST_VENV=/tmp/v bash .ci/lowest.sh
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${LOWEST_VENV:-.venv-lowest}
PYTHON=${PYTHON:-python3}
start=$(date +%s)

rm -rf "$VENV"  # a reused venv would keep newer versions that still satisfy the ranges
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "uv>=0.4,<1"
"$VENV/bin/python" -m uv pip install --quiet --python "$VENV/bin/python" --resolution lowest-direct -e '.[dev]'

echo "== lowest direct dependencies installed:"
"$VENV/bin/python" - <<'EOF'
import re
import tomllib
from importlib.metadata import PackageNotFoundError, version

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
names = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
for spec in names:
    name = re.split(r"[\[<>=!~ ;]", spec, maxsplit=1)[0]
    try:
        print(f"   {name}=={version(name)}  ({spec})")
    except PackageNotFoundError:
        raise SystemExit(f"{name} is declared but not installed")
EOF

echo "== import every module of bot/"
"$VENV/bin/python" - <<'EOF'
import importlib
import pkgutil

import bot

names = [m.name for m in pkgutil.walk_packages(bot.__path__, "bot.") if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(f"   {len(names)} modules imported")
EOF

echo "== tests"
# PostgreSQL variants run when the server at 127.0.0.1:5432 is up (as .ci/run starts it) and skip otherwise.
# Golden-image tests compare pixels with baselines drawn by the current matplotlib: not a floor question.
"$VENV/bin/python" -m pytest -q -x -p no:cacheprovider -m "not slow" --durations=5 \
  --deselect tests/render/test_golden.py \
  tests/test_config.py tests/test_timeparse.py \
  tests/test_config_empty.py::test_empty_variables_in_the_environment_are_unset \
  tests/test_config_empty.py::test_load_settings_errors_name_the_variable \
  tests/test_config_empty.py::test_empty_means_default_for_every_setting \
  tests/chat tests/model tests/storage tests/market tests/render tests/telegram/test_commands.py \
  tests/discord tests/reliability/test_fuzz_commands.py tests/reliability/test_hostile_telegram.py

echo "== lowest versions: OK in $(( $(date +%s) - start )) s"
