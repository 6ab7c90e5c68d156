"""A local Telegram Bot API server (aiohttp) speaking the Bot API's JSON shapes, for tests and the benchmark.

It implements what liqmap uses: getMe, getUpdates (long polling over scripted user updates), sendMessage,
sendPhoto (multipart, keeping the PNG bytes), editMessageMedia, editMessageCaption, answerCallbackQuery,
setMyCommands, deleteWebhook, setWebhook, getChatMember and close/logOut. Every call is recorded (method, decoded
parameters, uploaded files, time). ``fail(method, ...)`` injects a 429 with ``retry_after``, a 403, a 400 or a
timeout (the call is delivered, then the answer hangs). Point PTB at it with ``base_url(server.base_url)``.

Like the real Bot API, a getUpdates that arrives while another one is still waiting ends the waiting one with
409 "Conflict: terminated by other getUpdates request" (counted in ``poll_conflicts``; a poll whose client hung up
no longer counts as waiting), and ``migrate(old, new)`` turns a group into a supergroup: sends to the old id are
answered 400 with ``parameters.migrate_to_chat_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JSON_FIELDS = {"chat_id", "message_id", "reply_markup", "media", "commands", "user_id", "offset", "limit", "timeout",
               "allowed_updates", "show_alert", "drop_pending_updates", "max_connections"}
BOT_ID = 777000111


@dataclass
class Call:
    """One request the server received: method, decoded parameters, uploaded files (name → bytes), time, status."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    at: float
    status: int = 200


@dataclass
class Fault:
    """An injected failure: kind '429' | '403' | '400' | 'timeout'."""

    kind: str
    retry_after: int = 1
    description: str = ""
    hang_s: float = 2.0


@dataclass
class BotApiStandin:
    """The server. ``admins[chat_id]`` holds the user ids getChatMember reports as administrators."""

    token: str
    username: str = "liqmap_test_bot"
    admins: dict[int, set[int]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    pushed_at: dict[int, float] = field(default_factory=dict)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    max_poll_s: float = 0.25  # long polls end early (allowed by the API) so tests stop quickly
    migrated: dict[int, int] = field(default_factory=dict)  # old group id -> its supergroup's id
    poll_conflicts: int = 0  # getUpdates that found another one still waiting (the waiting one got 409)
    max_polls_in_flight: int = 0

    def __post_init__(self) -> None:
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self._faults: dict[str, list[Fault]] = {}
        self._runner: web.AppRunner | None = None
        self._hanging: set[asyncio.Task[Any]] = set()
        self._polls: list[tuple[asyncio.Event, web.Request]] = []  # waiting getUpdates: (terminated, request)
        self.port = 0

    # ---- lifecycle ------------------------------------------------------------------------------------------
    async def start(self) -> str:
        """Listen on a free local port; returns ``base_url``."""
        app = web.Application(client_max_size=50 * 2**20)
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)  # an access log would print the token in the URL
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.base_url

    async def close(self) -> None:
        """Stop serving."""
        self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # ---- scripting ------------------------------------------------------------------------------------------
    def fail(self, method: str, kind: str, *, times: int = 1, retry_after: int = 1, description: str = "",
             hang_s: float = 2.0) -> None:
        """The next ``times`` calls of ``method`` fail with ``kind`` ('429', '403', '400', 'timeout')."""
        self._faults.setdefault(method, []).extend(Fault(kind, retry_after, description, hang_s) for _ in range(times))

    def migrate(self, old_chat_id: int, new_chat_id: int) -> None:
        """The group ``old_chat_id`` was upgraded to the supergroup ``new_chat_id``: sends to the old id fail with
        400 and ``parameters.migrate_to_chat_id``, as the Bot API answers."""
        self.migrated[old_chat_id] = new_chat_id

    def user(self, user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"user{user_id}", "language_code": "en"}

    @staticmethod
    def chat(chat_id: int, chat_type: str = "", title: str = "") -> dict[str, Any]:
        kind = chat_type or ("private" if chat_id > 0 else "supergroup")
        out: dict[str, Any] = {"id": chat_id, "type": kind}
        if kind == "private":
            out["first_name"] = f"user{chat_id}"
        else:
            out["title"] = title or f"group {chat_id}"
        return out

    def type_text(self, chat_id: int, text: str, *, user_id: int | None = None, chat_type: str = "",
                  sender_chat: dict[str, Any] | None = None) -> int:
        """A user sends ``text`` (a leading ``/command`` becomes a bot_command entity); returns the update id."""
        msg: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat(chat_id, chat_type),
            "from": self.user(user_id if user_id is not None else abs(chat_id)),
            "text": text,
        }
        if sender_chat is not None:
            msg["sender_chat"] = sender_chat
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self._push({"message": msg})

    def press(self, chat_id: int, message_id: int, data: str, *, user_id: int | None = None) -> int:
        """A user presses an inline button with callback ``data`` under the bot's message ``message_id``."""
        message = self.messages[(chat_id, message_id)]
        query = {
            "id": f"cq{next(self._update_ids)}",
            "from": self.user(user_id if user_id is not None else abs(chat_id)),
            "message": message,
            "chat_instance": f"ci{chat_id}",
            "data": data,
        }
        return self._push({"callback_query": query})

    def _push(self, body: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **body})
        self.pushed_at[update_id] = time.perf_counter()
        self._new_update.set()
        return update_id

    # ---- inspecting -----------------------------------------------------------------------------------------
    def calls_of(self, *methods: str) -> list[Call]:
        """Recorded calls of these methods (successful or not), oldest first."""
        return [c for c in self.calls if c.method in methods]

    def sent(self, chat_id: int, *methods: str) -> list[Call]:
        """Successful sends to ``chat_id`` (default: sendMessage and sendPhoto)."""
        wanted = methods or ("sendMessage", "sendPhoto")
        return [c for c in self.calls if c.method in wanted and c.params.get("chat_id") == chat_id and c.status == 200]

    def messages_of(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages in ``chat_id`` as last stored (edits applied), oldest first."""
        return [m for (c, _), m in sorted(self.messages.items()) if c == chat_id]

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
        """Wait until ``predicate()`` holds; AssertionError (with the calls so far) after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                seen = [(c.method, c.status, c.params.get("chat_id")) for c in self.calls[-20:]]
                raise AssertionError(f"condition not met within {timeout_s} s; last calls: {seen}")
            await asyncio.sleep(0.01)

    # ---- the API --------------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params, files = await self._read(request)
        call = Call(method, params, files, time.perf_counter())
        self.calls.append(call)
        faults = self._faults.get(method)
        if faults:
            fault = faults.pop(0)
            if fault.kind == "timeout":
                result = self._answer(method, params, files)  # delivered; the answer comes after ``hang_s``
                await asyncio.sleep(fault.hang_s)
                return web.json_response({"ok": True, "result": result})
            call.status = int(fault.kind)
            return self._error(call.status, fault)
        handler = getattr(self, f"_m_{method}", None)
        if method == "getUpdates":
            return await self._get_updates(request, call)
        new_id = self._migrated_to(params)
        if new_id is not None:
            call.status = 400
            return web.json_response({"ok": False, "error_code": 400,
                                      "description": "Bad Request: group chat was upgraded to a supergroup chat",
                                      "parameters": {"migrate_to_chat_id": new_id}}, status=400)
        if handler is None and method not in ANSWERS:
            call.status = 404
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.json_response({"ok": True, "result": self._answer(method, params, files)})

    @staticmethod
    def _error(status: int, fault: Fault) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status}
        if status == 429:
            body["description"] = f"Too Many Requests: retry after {fault.retry_after}"
            body["parameters"] = {"retry_after": fault.retry_after}
        elif status == 403:
            body["description"] = fault.description or "Forbidden: bot was blocked by the user"
        else:
            body["description"] = fault.description or "Bad Request: something is wrong"
        return web.json_response(body, status=status)

    @staticmethod
    async def _read(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                name = part.name or ""  # type: ignore[union-attr]
                data = await part.read()  # type: ignore[union-attr]
                if part.filename:  # type: ignore[union-attr]
                    files[name] = bytes(data)
                else:
                    params[name] = data.decode()
        elif request.content_type == "application/json":
            params = dict(await request.json())
        elif request.can_read_body:
            params = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        for key in JSON_FIELDS & params.keys():
            if isinstance(params[key], str):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(params[key])
        return params, files

    def _migrated_to(self, params: dict[str, Any]) -> int | None:
        try:
            chat_id = int(params.get("chat_id", 0))
        except (TypeError, ValueError):
            return None
        return self.migrated.get(chat_id)

    async def _get_updates(self, request: web.Request, call: Call) -> web.Response:
        """Long poll; a newer getUpdates ends this one with 409 (Telegram's rule), a hang-up ends it silently."""
        self._polls = [(ended, req) for ended, req in self._polls if not ended.is_set() and not _hung_up(req)]
        if self._polls:
            self.poll_conflicts += 1
            for waiting, _ in self._polls:
                waiting.set()
        terminated = asyncio.Event()
        self._polls.append((terminated, request))
        self.max_polls_in_flight = max(self.max_polls_in_flight, len(self._polls))
        try:
            params = call.params
            offset = int(params.get("offset") or 0)
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            deadline = time.monotonic() + min(float(params.get("timeout") or 0), self.max_poll_s)
            while not self._updates and not terminated.is_set() and time.monotonic() < deadline:
                if _hung_up(request):
                    break  # the client gave up on this poll (its process stopped or died)
                self._new_update.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new_update.wait(), timeout=min(max(deadline - time.monotonic(),
                                                                                   0.001), 0.02))
            if terminated.is_set():
                call.status = 409
                return web.json_response({"ok": False, "error_code": 409, "description": CONFLICT}, status=409)
            limit = int(params.get("limit") or 100)
            return web.json_response({"ok": True, "result": self._updates[:limit]})
        finally:
            terminated.set()

    def _bot_user(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "liqmap", "username": self.username,
                "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}

    def _answer(self, method: str, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        handler = getattr(self, f"_m_{method}", None)
        return handler(params, files) if handler is not None else ANSWERS[method]

    def _message(self, chat_id: int, extra: dict[str, Any], message_id: int | None = None) -> dict[str, Any]:
        msg = {"message_id": message_id or next(self._message_ids), "date": int(time.time()),
               "chat": self.chat(chat_id), "from": self._bot_user(), **extra}
        self.messages[(chat_id, msg["message_id"])] = msg
        return msg

    @staticmethod
    def _photo(png: bytes) -> list[dict[str, Any]]:
        uid = f"p{hash(png) & 0xFFFFFF:x}"
        return [{"file_id": uid, "file_unique_id": uid, "width": 1280, "height": 720, "file_size": len(png)}]

    @staticmethod
    def _extras(params: dict[str, Any]) -> dict[str, Any]:
        return {k: params[k] for k in ("reply_markup", "caption") if k in params}

    def _m_getMe(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        return self._bot_user()

    def _m_sendMessage(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        return self._message(params["chat_id"], {"text": params["text"], **self._extras(params)})

    def _m_sendPhoto(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        png = files.get("photo", b"")
        return self._message(params["chat_id"], {"photo": self._photo(png), **self._extras(params)})

    def _m_editMessageMedia(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        media = params["media"]
        name = str(media["media"]).removeprefix("attach://")
        extra: dict[str, Any] = {"photo": self._photo(files.get(name, b"")), "edit_date": int(time.time())}
        if "caption" in media:
            extra["caption"] = media["caption"]
        extra.update({k: params[k] for k in ("reply_markup",) if k in params})
        return self._message(params["chat_id"], extra, params["message_id"])

    def _m_editMessageCaption(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        old = self.messages.get((params["chat_id"], params["message_id"]), {})
        extra = {k: v for k, v in old.items() if k == "photo"} | self._extras(params)
        return self._message(params["chat_id"], extra, params["message_id"])

    def _m_getChatMember(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        user_id = int(params["user_id"])
        user = self.user(user_id)
        if user_id in self.admins.get(int(params["chat_id"]), set()):
            flags = ("can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages",
                     "can_manage_video_chats", "can_restrict_members", "can_promote_members", "can_change_info",
                     "can_invite_users", "can_post_stories", "can_edit_stories", "can_delete_stories")
            return {"status": "administrator", "user": user, **{f: f != "is_anonymous" for f in flags}}
        return {"status": "member", "user": user}

    # easier spelled out than computed:
    def response_photo(self, call: Call) -> bytes:
        """The PNG bytes of a sendPhoto or editMessageMedia call."""
        if call.method == "sendPhoto":
            return call.files["photo"]
        return call.files[str(call.params["media"]["media"]).removeprefix("attach://")]


def _hung_up(request: web.Request) -> bool:
    """True once the client closed the connection of ``request``."""
    return request.transport is None or request.transport.is_closing()


CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
ANSWERS: dict[str, Any] = {
    "answerCallbackQuery": True,
    "setMyCommands": True,
    "deleteWebhook": True,
    "setWebhook": True,
    "close": True,
    "logOut": True,
    "deleteMyCommands": True,
}
