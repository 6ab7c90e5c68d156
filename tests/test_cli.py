"""The ``liqmap`` command line end to end, in process, on the offline sources (sim and replay)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.cli_run import clean_cli_env, run  # noqa: F401  (clean_cli_env: an autouse fixture)
from tests.conftest import shared_dataset

AT = "2026-06-01T00:00Z"



def test_map_json_on_the_synthetic_market(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "map", "--source", "sim", "--window", "24h", "--at", AT, "--json")
    assert code == 0
    obj = json.loads(out)
    assert {"symbol", "exchanges", "at", "price", "bins", "clusters", "synthetic"} <= obj.keys()
    assert obj["synthetic"] is True
    assert obj["symbol"] == "BTC/USDT:USDT"
    assert obj["at"] <= 1_780_272_000_000
    bins = obj["bins"]
    assert len(bins["price"]) >= 1000 and len(bins["long_usd"]) == len(bins["price"]) == len(bins["short_usd"])
    assert min(bins["long_usd"]) >= 0 and min(bins["short_usd"]) >= 0
    assert sum(bins["long_usd"]) > 0 and sum(bins["short_usd"]) > 0
    assert sorted(obj["exchanges"]) == ["binanceusdm", "bybit", "okx"]
    for c in obj["clusters"]:
        assert c["low"] <= c["peak"] <= c["high"]
        assert (c["high"] <= obj["price"]) if c["side"] == "long" else (c["low"] >= obj["price"])


def test_map_text_is_labelled_synthetic(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "map", "--source", "sim", "--exchanges", "okx", "--at", AT)
    assert code == 0
    assert "SYNTHETIC" in out and "okx" in out


def test_map_on_a_replayed_dataset_uses_only_closed_candles(capsys: pytest.CaptureFixture[str]) -> None:
    data = shared_dataset("okx-btc-2026-03")
    at = "2026-03-03T12:30Z"  # between two 1h candle closes
    code, out, _ = run(capsys, "map", "--source", f"replay:{data}", "--window", "3d", "--at", at, "--json")
    assert code == 0, out
    obj = json.loads(out)
    assert obj["synthetic"] is False and obj["exchanges"] == ["okx"]
    # the last candle used is the one that closed at 12:00, so the price is that candle's close
    closes = {
        int(row.split(",")[0]) + 3_600_000: float(row.split(",")[4])
        for row in (data / "ohlcv.csv").read_text().splitlines()[1:]
    }
    assert obj["price"] == pytest.approx(closes[1_772_539_200_000])


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["map", "--source", "sim", "--symbol", "NOT A SYMBOL"], "symbol"),
        (["map", "--source", "sim", "--window", "5y"], "window"),
        (["map", "--source", "sim", "--at", "yesterday"], "time"),
        (["map", "--source", "nonsense"], "source"),
        (["map", "--source", "replay:/does/not/exist"], "exist"),
        (["map", "--source", "ccxt", "--exchanges", "notanexchange"], "notanexchange"),
        (["backtest", "--data", "/does/not/exist"], "exist"),
        (["backtest", "--data", ".", "--step", "soon"], "duration"),
    ],
)
def test_bad_input_is_one_clear_line(capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    code, _out, err = run(capsys, *argv)
    assert code == 2
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("liqmap: ") and needle.lower() in err.lower()


def test_malformed_dataset_is_one_clear_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "meta.json").write_text(
        json.dumps({"exchange": "okx", "symbol": "BTC/USDT:USDT", "timeframe": "1h", "contract": "linear"})
    )
    (bad / "ohlcv.csv").write_text("timestamp,open,high,low,close,volume,taker_buy_volume\n1,2,3,x,5,,\n")
    code, _, err = run(capsys, "map", "--source", f"replay:{bad}")
    assert code == 2 and "ohlcv.csv" in err and "Traceback" not in err


def test_run_once_without_tokens_says_what_to_set(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    code, _, _ = run(capsys, "run", "--once", "--source", "sim", "--exchanges", "bybit")
    assert code == 0
    text = caplog.text
    assert "LIQMAP_TELEGRAM_TOKEN" in text and "LIQMAP_DISCORD_TOKEN" in text and "LIQMAP_SOURCE" in text
    assert "liquidation map" in text


def test_db_subcommands_migrate_a_sqlite_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LIQMAP_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    assert run(capsys, "db", "current")[1].startswith("base")
    assert run(capsys, "db", "upgrade")[0] == 0
    code, out, _ = run(capsys, "db", "current")
    assert code == 0 and out.strip() != "" and not out.startswith("base")
    code, _, err = run(capsys, "db", "check")
    assert code == 0, err
    assert run(capsys, "db", "downgrade", "base")[0] == 0
    assert run(capsys, "db", "current")[1].startswith("base")


def test_db_unreachable_is_one_clear_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQMAP_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    code, _, err = run(capsys, "db", "current")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
