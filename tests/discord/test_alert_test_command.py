"""``/alert test`` on Discord end to end (real discord.py against simcord): any member may ask (it reads history
only), the answer is deferred, labelled as history, and bad input gets the parser's short message."""

from __future__ import annotations

import simcord

from tests.discord.test_commands import server


async def test_alert_test_answers_with_history_not_a_promise(simcord_env: simcord.Env) -> None:
    simcord_env.settle_timeout = 120.0  # the replay of 7 days runs in a worker thread: longer than simcord's 5 s
    _, channel, alice = server(simcord_env)  # not a moderator: testing changes nothing
    result = await alice.slash(channel, "alert test", symbol="BTC", proximity="1.5%")
    callbacks = [r.json for r in simcord_env.http_requests if r.path.endswith("/callback")]
    assert {"type": 5} in callbacks  # deferred: the replay runs in a worker thread
    message = result.response or result.followups[0]
    assert "history and not a promise" in message.content and "would have fired" in message.content
    bad = await alice.slash(channel, "alert test", symbol="BTC", proximity="abc")
    reply = bad.response or bad.followups[0]
    assert "alert test" in reply.content and len(reply.content) < 400
