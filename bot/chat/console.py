"""The console notifier: logs each alert instead of sending it (used when no chat token is configured)."""

from __future__ import annotations

import itertools
import logging

log = logging.getLogger("liqmap.alerts.console")


class ConsoleNotifier:
    """A ``Notifier`` that writes the alert to the log (and remembers the last ``keep`` ones for ``/status``)."""

    def __init__(self, platform: str = "console", keep: int = 50) -> None:
        self.platform = platform
        self.keep = keep
        self.sent: list[tuple[str, str]] = []
        self._ids = itertools.count(1)

    async def send(
        self, chat_external_id: str, text: str, png: bytes | None, *, side: str | None = None
    ) -> str:
        """Log ``text`` for the chat; returns a local message id like ``console-3``."""
        message_id = f"{self.platform}-{next(self._ids)}"
        image = f" [+ {len(png)} byte image]" if png else ""
        log.info("ALERT to %s chat %s%s:\n%s", self.platform, chat_external_id, image, text)
        self.sent.append((chat_external_id, text))
        del self.sent[: max(len(self.sent) - self.keep, 0)]
        return message_id
