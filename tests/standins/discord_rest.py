"""A local stand-in for the Discord REST API (v10), speaking its wire format, for discord.py's real ``HTTPClient``.

Point discord.py at it with ``DiscordRest.pointed()`` (sets ``discord.http.Route.BASE`` and
``DiscordWebSocket.DEFAULT_GATEWAY``, restores both on exit).
Served: login (``GET /users/@me``, ``GET /oauth2/applications/@me``), ``GET /gateway/bot`` plus a websocket that
accepts and stays silent (enough for ``Client.start`` to reach the gateway and be closed), command sync
(``PUT /applications/{app}/commands`` and ``.../guilds/{guild}/commands``), create DM (``POST /users/@me/channels``)
and send message (``POST /channels/{id}/messages``, JSON or multipart with ``payload_json`` and ``files[n]``).

Every request is recorded as a ``Call``. ``fail(...)`` scripts the next answers of a route: 429 with ``retry_after``
(with or without the ``Via`` header real Discord responses carry), 403, 404 or any other status.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import discord
import yarl
from aiohttp import BodyPartReader, web
from discord.gateway import DiscordWebSocket

APP_ID = 900_000_000_000_000_001
BOT_ID = 900_000_000_000_000_002
TIMESTAMP = "2026-05-28T20:00:00.000000+00:00"
ERROR_BODIES = {
    403: {"message": "Missing Access", "code": 50001},
    404: {"message": "Unknown Channel", "code": 10003},
    503: {"message": "upstream connect error", "code": 0},
}


@dataclass
class UploadedFile:
    """One multipart file part: form field name (``files[0]``), file name, content type and bytes."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Call:
    """One request the stand-in received: JSON payload (``payload_json`` for multipart) and uploaded files."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any = None
    files: list[UploadedFile] = field(default_factory=list)
    status: int = 200


@dataclass
class Fault:
    """The next ``times`` requests matching ``method`` and the ``path`` regex get ``status``."""

    method: str
    path: str
    status: int
    times: int = 1
    retry_after: float = 0.05
    via: bool = True


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response with Discord's exact ``Content-Type: application/json`` (discord.py compares it verbatim)."""
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={**(headers or {}), "Content-Type": "application/json"}
    )


def bot_user() -> dict[str, Any]:
    return {
        "id": str(BOT_ID),
        "username": "liqmap",
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        "bot": True,
        "flags": 0,
    }


class DiscordRest:
    """The running stand-in; ``base`` is its ``.../api/v10`` URL once started."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.base = ""
        self._ids = itertools.count(1_000_000_000_000_000_000)
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []

    # ---- control --------------------------------------------------------------------------------------------
    def fail(
        self, method: str, path: str, status: int, *, times: int = 1, retry_after: float = 0.05, via: bool = True
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (``path`` is a regex on the API path)."""
        self.faults.append(Fault(method, path, status, times, retry_after, via))

    def sent(self, channel_id: int | None = None) -> list[Call]:
        """Successful message sends, optionally to one channel."""
        return [
            c
            for c in self.calls
            if c.method == "POST"
            and c.status == 200
            and re.fullmatch(r"/channels/\d+/messages", c.path)
            and (channel_id is None or c.path == f"/channels/{channel_id}/messages")
        ]

    @contextlib.contextmanager
    def pointed(self) -> Iterator[None]:
        """discord.py's ``Route.BASE`` and default gateway pointed at this stand-in for the block (then restored)."""
        saved_base, saved_gateway = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.base
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved_base, saved_gateway

    @property
    def gateway_connections(self) -> int:
        """How many gateway websockets clients opened."""
        return len(self._sockets)

    @property
    def gateway_url(self) -> str:
        return self.base.replace("http://", "ws://").replace("/api/v10", "/gateway")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.base = f"http://127.0.0.1:{port}/api/v10"

    async def close(self) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- wire -----------------------------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        async for _ in ws:  # silent: no HELLO, the client waits until it is closed
            pass
        return ws

    async def _record(self, request: web.Request, path: str) -> Call:
        call = Call(request.method, path, dict(request.headers))
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                data = await part.read()
                if part.name == "payload_json":
                    call.json = json.loads(data)
                else:
                    call.files.append(
                        UploadedFile(
                            part.name or "", part.filename or "", part.headers.get("Content-Type", ""), bytes(data)
                        )
                    )
        elif request.can_read_body:
            call.json = await request.json()
        self.calls.append(call)
        return call

    def _fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.method == method and re.fullmatch(fault.path, path):
                fault.times -= 1
                return fault
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        call = await self._record(request, path)
        fault = self._fault(request.method, path)
        if fault is not None:
            call.status = fault.status
            if fault.status == 429:
                body = {"message": "You are being rate limited.", "retry_after": fault.retry_after, "global": False}
                headers = {"Retry-After": str(max(1, round(fault.retry_after))), "X-RateLimit-Scope": "user"}
                if fault.via:
                    headers["Via"] = "1.1 google"
                return _json(body, status=429, headers=headers)
            return _json(ERROR_BODIES.get(fault.status, {"message": "error", "code": 0}), status=fault.status)
        return _json(self._answer(request.method, path, call))

    def _answer(self, method: str, path: str, call: Call) -> Any:
        if method == "GET" and path == "/users/@me":
            return bot_user()
        if method == "GET" and path == "/oauth2/applications/@me":
            return {
                "id": str(APP_ID),
                "name": "liqmap",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": bot_user(),
                "verify_key": "00",
                "flags": 0,
            }
        if method == "GET" and path == "/gateway/bot":
            return {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1},
            }
        m = re.fullmatch(r"/applications/(\d+)(?:/guilds/(\d+))?/commands", path)
        if method == "PUT" and m:
            return [
                {
                    **cmd,
                    "id": str(next(self._ids)),
                    "application_id": m.group(1),
                    "version": "1",
                    **({"guild_id": m.group(2)} if m.group(2) else {}),
                }
                for cmd in call.json or []
            ]
        if method == "POST" and path == "/users/@me/channels":
            recipient = {**bot_user(), "id": str(call.json["recipient_id"]), "bot": False, "username": "user"}
            return {
                "id": str(int(call.json["recipient_id"]) + 1),
                "type": 1,
                "recipients": [recipient],
                "last_message_id": None,
            }
        m = re.fullmatch(r"/channels/(\d+)/messages", path)
        if method == "POST" and m:
            body = call.json or {}
            attachments = [
                {
                    "id": str(next(self._ids)),
                    "filename": f.filename,
                    "size": len(f.data),
                    "url": f"https://cdn.invalid/{f.filename}",
                    "proxy_url": f"https://cdn.invalid/{f.filename}",
                    "content_type": f.content_type,
                }
                for f in call.files
            ]
            return {
                "id": str(next(self._ids)),
                "channel_id": m.group(1),
                "author": bot_user(),
                "content": body.get("content") or "",
                "timestamp": TIMESTAMP,
                "edited_timestamp": None,
                "tts": False,
                "mention_everyone": False,
                "mentions": [],
                "mention_roles": [],
                "attachments": attachments,
                "embeds": body.get("embeds") or [],
                "pinned": False,
                "type": 0,
            }
        call.status = 404
        raise web.HTTPNotFound(
            body=json.dumps({"message": f"stand-in has no route {method} {path}", "code": 0}).encode(),
            headers={"Content-Type": "application/json"},
        )
