"""Market-data error types; each carries one clear user-facing line (all are ``ValueError``)."""

from __future__ import annotations

from bot.errors import LiqmapError


class MarketError(LiqmapError):
    """A market source was misconfigured or could not deliver data (bad spec, unknown exchange, ...)."""


class DatasetError(MarketError):
    """A dataset directory is missing, incomplete or malformed; the message names the file and the problem."""


class SymbolError(MarketError):
    """A symbol could not be understood; the message lists the accepted forms."""
