"""``liqmap risk`` in process on the offline simulator: text, --json, --out, and bad input as one line (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.model.risk import Position, liq_price
from tests.cli_run import clean_cli_env, run  # noqa: F401  (clean_cli_env: an autouse fixture)

AT = "2026-06-01T00:00Z"



def test_risk_text_and_image(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_png = tmp_path / "risk.png"
    code, out, err = run(capsys, "risk", "long", "62000", "20x", "--source", "sim", "--at", AT, "--out", str(out_png))
    assert code == 0, err
    assert "Liquidation price: 59,136.55" in out and "isolated margin" in out and "SYNTHETIC" in out
    assert out_png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_risk_json_with_size_symbol_and_exchange(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "risk", "short", "62000", "20x", "--size", "1M", "--symbol", "BTC",
                         "--exchange", "binanceusdm", "--source", "sim", "--at", AT, "--json")
    assert code == 0, err
    obj = json.loads(out)
    assert obj["liquidation_price"] == pytest.approx(64_738.10, abs=0.01)  # tier 0.65%, cum 950 (hand-computed)
    assert obj["liquidation_price"] == pytest.approx(liq_price(Position(-1, 62_000.0, 20.0, 1e6)))
    assert obj["tier"]["mmr"] == 0.0065 and obj["tier"]["cum"] == pytest.approx(950.0)
    assert obj["margin"] == "isolated" and obj["size_defaulted"] is False and obj["map"]["synthetic"] is True
    assert 0.0 <= obj["reach_probability_24h"] <= 1.0 and obj["distance_pct"] is not None
    coin = json.loads(run(capsys, "risk", "long", "62000", "20x", "--symbol", "BTCUSD", "--at", AT, "--json")[1])
    assert coin["exchange"] == "binancecoinm" and coin["tier"]["unit"] == "BTC"


@pytest.mark.parametrize(("argv", "needle"), [
    (("long", "0", "20x"), "the entry price must be above 0"),
    (("long", "62000", "200x"), "200x is above binanceusdm's maximum of 125x"),
    (("long", "62000", "20x", "--symbol", "NOPE/EUR"), "unknown symbol"),
    (("long", "62000", "20x", "--symbol", "DOGE"), "unknown symbol DOGE/USDT:USDT: not listed"),
    (("sideways", "62000", "20x"), "the side is long or short"),
])
def test_risk_bad_input(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], needle: str) -> None:
    code, out, err = run(capsys, "risk", *argv, "--source", "sim", "--at", AT)
    assert out == ""
    assert code == 2 and needle in err and "Traceback" not in err and err.count("\n") == 1
