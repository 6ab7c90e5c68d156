"""``liqmap run`` as a real process: it migrates, serves /healthz and /metrics on the configured port, logs JSON with
no secret in it, and exits 0 on SIGTERM after a graceful shutdown."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

FAKE_DISCORD = "MTIzNDU2.never-used-offline.discord-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(port: int, proc: subprocess.Popen[str], deadline_s: float = 25.0) -> dict:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        assert proc.poll() is None, f"liqmap run exited early: {proc.communicate()[1][-2000:]}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                body = json.loads(r.read())
                if body["last_tick_at"] is not None:
                    return body
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.2)
    raise AssertionError("liqmap run never became healthy with a tick")


def test_liqmap_run_serves_health_and_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQMAP_")}
    env.update(
        LIQMAP_SOURCE="sim",
        LIQMAP_DATA_DIR=str(tmp_path / "data"),
        LIQMAP_TICK_SECONDS="1",
        LIQMAP_HEALTH_PORT=str(port),
        LIQMAP_LOG_JSON="true",
        LIQMAP_EXCHANGE_API_KEYS=json.dumps({"binanceusdm": "never-logged-api-key-123"}),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        body = wait_healthy(port, proc)
        assert body["status"] == "ok" and body["outbox"] == {"queued": 0, "sending": 0, "failed": 0}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            assert b"liqmap_last_tick_success_timestamp_seconds " in r.read()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr[-2000:]
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert records and all({"ts", "level", "logger", "message"} <= set(r) for r in records)
    assert any("shutting down" in r["message"] for r in records)
    assert "never-logged-api-key-123" not in stderr


@pytest.mark.parametrize("health_port", ["0"])
def test_health_port_0_runs_without_the_server(tmp_path: Path, health_port: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQMAP_")}
    env.update(LIQMAP_SOURCE="sim", LIQMAP_DATA_DIR=str(tmp_path / "data"), LIQMAP_HEALTH_PORT=health_port)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--once"],
        cwd=tmp_path,
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
