"""``liqmap backtest --estimate-prices``: capture and the visited Spearman on a dataset that only has per-bar
liquidation totals, with each bar's liquidations placed over the lower (longs) / upper (shorts) half of its range.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.backtest import run_backtest
from bot.backtest_estimate import POINTS_PER_HALF, estimated_events
from bot.cli import main
from bot.errors import LiqmapError
from bot.market.replay import load_dataset, load_liquidation_bars
from bot.timeparse import parse_time
from tests.conftest import shared_dataset
from tests.model.test_backtest_range import HOURS, H, _bars_dataset, _cli_json


def test_events_keep_each_bars_usd_inside_its_half_of_the_range(tmp_path: Path) -> None:
    data = tmp_path / "bars"
    series = _bars_dataset(data)
    bars = load_liquidation_bars(data)
    assert bars is not None
    got = estimated_events(series, bars)
    s = got.series
    assert got.holes == () and s.liq_timestamp.size == 2 * POINTS_PER_HALF * HOURS
    assert np.all(np.diff(s.liq_timestamp) >= 0)
    usd = s.liq_price * s.liq_amount
    for i in (0, 17, HOURS - 1):
        at = s.liq_timestamp == series.timestamp[i] + H // 2  # stamped at the bar's middle
        low, high = series.low[i], series.high[i]
        mid = (low + high) / 2
        longs, shorts = at & (s.liq_side > 0), at & (s.liq_side < 0)
        assert usd[longs].sum() == pytest.approx(bars.long_usd[i]) and usd[shorts].sum() == pytest.approx(
            bars.short_usd[i])
        assert np.all((s.liq_price[longs] > low) & (s.liq_price[longs] < mid))
        assert np.all((s.liq_price[shorts] > mid) & (s.liq_price[shorts] < high))


def test_unknown_bars_are_holes_and_capture_steps_over_them_are_not_scored(tmp_path: Path) -> None:
    data = tmp_path / "bars"
    _bars_dataset(data)
    lines = (data / "liquidation_bars.csv").read_text().splitlines()
    hole = 100  # hour 100 unknown: its row says nan
    t_hole = int(lines[1 + hole].split(",")[0])
    lines[1 + hole] = f"{t_hole},nan,nan"
    del lines[1 + 150]  # and hour 150 has no row at all
    (data / "liquidation_bars.csv").write_text("\n".join(lines) + "\n")
    series, bars = load_dataset(data), load_liquidation_bars(data)
    assert bars is not None
    t_missing = t_hole + 50 * H
    assert estimated_events(series, bars).holes == ((t_hole, t_hole + H), (t_missing, t_missing + H))
    report = run_backtest(series, bars=bars, estimate_prices=True)
    at = [s.at for s in report.snapshots]
    assert at and not any(t_hole - 24 * H < t < t_hole + H for t in at)  # no 24h horizon over a hole
    assert not any(t_missing - 24 * H < t < t_missing + H for t in at)
    assert any(t <= t_hole - 24 * H for t in at) and any(t >= t_hole + H for t in at)


def test_cli_scores_capture_on_estimated_prices_and_says_so(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "bars"
    _bars_dataset(data)
    plain = _cli_json(capsys, "--data", str(data))
    j = _cli_json(capsys, "--data", str(data), "--estimate-prices")
    assert plain["capture_scored"] is False and plain["capture_estimated"] is False
    assert j["capture_scored"] is True and j["capture_estimated"] is True
    assert j["snapshots"] > 150 and 0 < j["capture_nearest"] <= 1 and 0 <= j["capture_map"] <= 1
    assert j["lift_vs_nearest"] == pytest.approx(j["capture_map"] / j["capture_nearest"])
    assert -1 <= j["spearman_map"] <= 1 and -1 <= j["spearman_baseline"] <= 1
    assert any("ESTIMATED" in n for n in j["notes"])
    for key in ("range_partial", "range_n"):  # the traded-range score still reads the bars, unchanged
        assert j[key] == plain[key]
    code = main(["backtest", "--data", str(data), "--estimate-prices"])
    text = capsys.readouterr().out
    assert code == 0 and "ESTIMATED" in text and "nearest" in text


def test_estimate_prices_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "bars"
    _bars_dataset(data)
    assert main(["backtest", "--data", str(data), "--estimate-prices", "--alerts"]) == 2
    assert "--estimate-prices" in capsys.readouterr().err
    with pytest.raises(LiqmapError, match=r"liquidation_bars\.csv"):
        run_backtest(load_dataset(data), estimate_prices=True)


def test_a_dataset_with_real_prices_is_not_estimated(capsys: pytest.CaptureFixture[str]) -> None:
    okx = shared_dataset("okx-btc-2026-03")
    assert main(["backtest", "--data", str(okx), "--estimate-prices"]) == 2
    err = capsys.readouterr().err
    assert "liquidation_bars.csv" in err and err.count("\n") == 1


@pytest.mark.slow
def test_estimated_capture_on_coinglass_halves() -> None:
    """The 161-day set with estimated prices, on both halves (docs/model.md "Capture and visited ρ on 161 days"):
    the forecast is near the nearest baseline (lift 0.95 / 1.04 with steps every 2h), far from the issue's 1.25,
    and the map ranks visited levels above the distance baseline. Wide bounds: a sanity check of the estimate on
    real data, not a tuned figure."""
    data = shared_dataset("coinglass-btc-1h-2025-26")
    series, bars = load_dataset(data), load_liquidation_bars(data)
    split = parse_time("2026-02-11T15:00:00Z")
    for since, until in ((None, split), (split, None)):
        fc = run_backtest(series, bars=bars, step="3h", estimate_prices=True, since=since, until=until).to_json()
        raw = run_backtest(series, bars=bars, step="3h", estimate_prices=True, since=since, until=until,
                           prediction="pending").to_json()
        assert fc["snapshots"] > 500 and fc["capture_estimated"] is True
        assert 0.85 < fc["lift_vs_nearest"] < 1.15
        assert raw["spearman_map"] > raw["spearman_baseline"] + 0.3
