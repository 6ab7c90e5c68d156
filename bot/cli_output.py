"""The CLI's input and output helpers, shared by the argument parser (``bot.cli``) and the subcommands
(``bot.commands``): settings from the command line, and JSON on stdout."""

from __future__ import annotations

import argparse
import json
import sys

from bot.config import Settings, load_settings


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with the command line's --source/--exchanges winning."""
    overrides: dict[str, object] = {}
    if getattr(args, "source", None):
        overrides["source"] = args.source
    if getattr(args, "exchanges", None):
        overrides["exchanges"] = args.exchanges
    return load_settings(**overrides)


def print_json(obj: object) -> None:
    """Print one JSON object on stdout."""
    json.dump(obj, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")
