"""The settings table of README.md and docs/operations.md, generated from ``bot.config.Settings`` so it matches.

``python -m bot.ops.settings_table`` prints it (a test checks both documents contain exactly this text).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_core import PydanticUndefined

from bot.config import Settings

ENV_PREFIX = "LIQMAP_"


def env_name(field: str) -> str:
    """``LIQMAP_<FIELD>``: the environment variable of one ``Settings`` field."""
    return f"{ENV_PREFIX}{field.upper()}"


def env_names() -> list[str]:
    """Every setting's environment variable, in declaration order."""
    return [env_name(name) for name in Settings.model_fields]


def _default_text(value: object) -> str:
    if value is None or isinstance(value, SecretStr) or value == {}:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value) if str(value) != "" else "(empty)"


def settings_table() -> str:
    """A Markdown table: variable, default, meaning (the field's description), one row per ``Settings`` field."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, info in Settings.model_fields.items():
        default = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
        shown = "" if default is PydanticUndefined else _default_text(default)
        meaning = (info.description or "").replace("|", "\\|")
        cell = shown if shown in ("—", "(empty)") else f"`{shown}`"
        rows.append(f"| `{env_name(name)}` | {cell} | {meaning} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(settings_table(), end="")
