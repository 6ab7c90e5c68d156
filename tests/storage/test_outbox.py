"""The outbox: enqueue once, claim once across workers, reclaim after a crash, only the holder finishes a row."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import make_url, text

from bot.storage import outbox
from bot.storage.chats import deactivate_chat
from bot.storage.db import Database
from tests.storage.helpers import T0, make_chat, make_sub, new_alert

LEASE = 30_000


def _enqueue(db: Database, n: int, chat_id: int, sub_id: int | None = None, prefix: str = "k") -> None:
    with db.session() as s:
        assert outbox.enqueue(s, [new_alert(chat_id, sub_id, f"{prefix}{i}", T0 + i) for i in range(n)]) == n


def test_enqueue_dedupes_on_key(db: Database) -> None:
    chat = make_chat(db)
    sub = make_sub(db, chat)
    with db.session() as s:
        assert outbox.enqueue(s, [new_alert(chat, sub, "a"), new_alert(chat, sub, "a"), new_alert(chat, sub, "b")]) == 2
    with db.session() as s:
        assert outbox.enqueue(s, [new_alert(chat, sub, "a")]) == 0
        assert outbox.enqueue(s, []) == 0
        assert outbox.counts(s) == {"queued": 2, "sending": 0, "sent": 0, "failed": 0}


def test_claim_marks_sending_and_respects_next_attempt(db: Database) -> None:
    chat = make_chat(db)
    _enqueue(db, 3, chat)
    got = outbox.claim(db, "w1", 2, T0 + 10, LEASE)
    assert [a.dedupe_key for a in got] == ["k0", "k1"]
    assert all(a.state == "sending" and a.claimed_by == "w1" and a.attempts == 1 for a in got)
    assert all(a.claimed_until == T0 + 10 + LEASE for a in got)
    assert [a.dedupe_key for a in outbox.claim(db, "w2", 10, T0 + 10, LEASE)] == ["k2"]
    assert outbox.claim(db, "w2", 10, T0 + 10, LEASE) == []
    # not yet due: created in the future (the claims above expire at T0 + 10 + LEASE and are reclaimed then)
    with db.session() as s:
        for a in outbox.list_alerts(s, state="sending"):
            assert a.claimed_by is not None and outbox.mark_sent(s, a.id, a.claimed_by, "m", T0 + 20)
        outbox.enqueue(s, [new_alert(chat, None, "later", created_at=T0 + 60_000)])
    assert outbox.claim(db, "w1", 10, T0 + 59_999, LEASE) == []
    assert [a.dedupe_key for a in outbox.claim(db, "w1", 10, T0 + 60_000, LEASE)] == ["later"]


def test_state_transitions_need_the_claim_holder(db: Database) -> None:
    chat = make_chat(db)
    _enqueue(db, 3, chat)
    a, b, c = outbox.claim(db, "w1", 3, T0 + 10, LEASE)
    with db.session() as s:
        assert not outbox.mark_sent(s, a.id, "intruder", "m1", T0 + 20)
        assert outbox.mark_sent(s, a.id, "w1", "m1", T0 + 20)
        assert not outbox.mark_sent(s, a.id, "w1", "m1", T0 + 21)  # already sent
        assert outbox.mark_retry(s, b.id, "w1", "timeout", T0 + 5_000)
        assert outbox.mark_failed(s, c.id, "w1", "forbidden")
        assert not outbox.mark_failed(s, a.id, "w1", "late")
    with db.session() as s:
        sa, sb, sc = (outbox.get_alert(s, x.id) for x in (a, b, c))
        assert outbox.counts(s) == {"queued": 1, "sending": 0, "sent": 1, "failed": 1}
    assert sa is not None and sa.state == "sent" and sa.message_id == "m1" and sa.sent_at == T0 + 20
    assert sb is not None and sb.state == "queued" and sb.last_error == "timeout" and sb.claimed_by is None
    assert sc is not None and sc.state == "failed" and sc.last_error == "forbidden"
    # the retried row comes back only when due, with attempts counted
    assert outbox.claim(db, "w2", 10, T0 + 4_999, LEASE) == []
    (again,) = outbox.claim(db, "w2", 10, T0 + 5_000, LEASE)
    assert again.id == b.id and again.attempts == 2


def test_expired_claim_is_reclaimed_and_the_old_holder_cannot_finish(db: Database) -> None:
    chat = make_chat(db)
    _enqueue(db, 1, chat)
    (first,) = outbox.claim(db, "crashed", 5, T0 + 10, LEASE)
    assert outbox.claim(db, "w2", 5, T0 + 10 + LEASE, LEASE) == []  # claimed_until not passed yet
    (again,) = outbox.claim(db, "w2", 5, T0 + 11 + LEASE, LEASE)
    assert again.id == first.id and again.claimed_by == "w2" and again.attempts == 2
    with db.session() as s:
        assert not outbox.mark_sent(s, first.id, "crashed", "m-old", T0 + LEASE + 20)
        assert outbox.mark_sent(s, first.id, "w2", "m-new", T0 + LEASE + 20)
        rec = outbox.get_alert(s, first.id)
    assert rec is not None and rec.message_id == "m-new"


def test_two_concurrent_workers_never_claim_the_same_row(db_url: str) -> None:
    setup = Database(db_url)
    chat = make_chat(setup)
    _enqueue(setup, 300, chat)
    setup.dispose()
    claimed: dict[str, list[int]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        own = Database(db_url)  # its own engine and connections
        try:
            barrier.wait()
            while batch := outbox.claim(own, name, 7, T0 + 1_000, LEASE):
                claimed[name].extend(a.id for a in batch)
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=worker, args=(n,)) for n in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    a, b = claimed["a"], claimed["b"]
    assert len(a) == len(set(a)) and len(b) == len(set(b))
    assert not set(a) & set(b)
    assert len(a) + len(b) == 300


@pytest.mark.postgres
def test_postgres_claim_skips_rows_locked_by_another_transaction(pg_url: str) -> None:
    url = make_url(pg_url)
    options = f"{url.query['options']} -clock_timeout=5000"  # a blocking claim fails the test instead of hanging
    db = Database(url.update_query_dict({"options": options}).render_as_string(hide_password=False))
    other = Database(pg_url)
    try:
        chat = make_chat(db)
        _enqueue(db, 3, chat)
        with other.session() as s:
            first_id = s.execute(text("SELECT min(id) FROM alerts")).scalar_one()
            s.execute(text("SELECT id FROM alerts WHERE id = :i FOR UPDATE"), {"i": first_id})
            got = outbox.claim(db, "w1", 10, T0 + 1_000, LEASE)  # must neither block nor take the locked row
            assert first_id not in {a.id for a in got} and len(got) == 2
    finally:
        db.dispose()
        other.dispose()


def test_deactivated_chat_fails_its_queued_alerts(db: Database) -> None:
    chat = make_chat(db)
    other = make_chat(db, "200")
    _enqueue(db, 2, chat)
    _enqueue(db, 1, other, prefix="o")
    with db.session() as s:
        assert deactivate_chat(s, chat, "Forbidden: bot was blocked by the user") == 2
    got = outbox.claim(db, "w1", 10, T0 + 1_000, LEASE)
    assert [a.chat_id for a in got] == [other]
    with db.session() as s:
        failed = outbox.list_alerts(s, chat_id=chat, state="failed")
    assert len(failed) == 2 and all("blocked" in (a.last_error or "") for a in failed)
