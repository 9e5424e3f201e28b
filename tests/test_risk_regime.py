"""The regime monitor on history built by hand, and on the shipped one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from crossmargin.cli.main import app
from crossmargin.risk.history import HourlyHistory
from crossmargin.risk.regime import regime
from crossmargin.units import InputError


def _history(hours: int = 24 * 120, seed: int = 1) -> HourlyHistory:
    """Two assets that move independently for 60 days, then as one (a crash regime)."""
    rng = np.random.default_rng(seed)
    half = hours // 2
    a = rng.normal(0, 0.01, hours)
    b = np.concatenate([rng.normal(0, 0.01, half), a[half:] + rng.normal(0, 0.0005, hours - half)])
    closes = np.exp(np.cumsum(np.vstack([a, b]).T, axis=0)).astype(np.float32) * 100
    return HourlyHistory(("AAA", "BBB"), np.arange(hours + 0, dtype=np.int64), closes)


def test_collapse_of_diversification_is_flagged_only_where_it_happens():
    series = regime({"AAA": 1.0, "BBB": 1.0}, window_hours=24 * 10, every_hours=24, history=_history())
    late = series.hours >= 24 * 60 + 24 * 10  # windows wholly inside the second half
    early = series.hours < 24 * 60
    assert series.flagged[late].all() and not series.flagged[early].any()
    # two equal positions: the ratio is sqrt(2) when they are independent and 1 when they move as one
    assert np.all(np.abs(series.diversification_ratio[early] - np.sqrt(2)) < 0.2)
    assert np.all(np.abs(series.diversification_ratio[late] - 1) < 0.01)
    (episode,) = series.episodes()
    assert episode.end_hour == series.hours[-1] and episode.peak_correlation > 0.99


def test_a_hedge_diversifies_even_when_correlation_is_high():
    series = regime({"AAA": 1.0, "BBB": -1.0}, window_hours=24 * 10, every_hours=24, history=_history())
    late = series.hours >= 24 * 70
    assert series.flagged[late].all()  # correlation is high ...
    assert np.all(series.diversification_ratio[late] > 10)  # ... but the legs offset each other


def test_the_shipped_history_flags_march_2020_and_the_luna_weeks():
    series = regime({"BTC": 2.0, "ETH": 1.0, "ADA": 1.0})
    days = {str(np.datetime64(int(h), "h"))[:10] for h, f in zip(series.hours, series.flagged, strict=True) if f}
    assert "2020-03-20" in days and "2022-05-20" in days


@pytest.mark.parametrize(
    ("weights", "options", "field"),
    [({"BTC": 1.0}, {}, "positions"), ({"BTC": 1.0, "ETH": 1.0}, {"window_hours": 10}, "window"),
     ({"BTC": 1.0, "ETH": 1.0}, {"threshold": 1.5}, "threshold"), ({"BTC": 1.0, "PEPE": 1.0}, {}, "positions")],
)  # fmt: skip
def test_refusals_name_the_field(weights, options, field):
    with pytest.raises(InputError, match=field):
        regime(weights, **options)


def test_command_line(tmp_path: Path):
    account = tmp_path / "two.json"
    account.write_text(
        json.dumps(
            {"venue": "generic", "balances": {"USD": "10000"}, "positions": [
                {"symbol": "BTC-PERP", "side": "long", "size": "1", "entry_price": "50000", "mark_price": "50000"},
                {"symbol": "ETH-PERP", "side": "short", "size": "5", "entry_price": "3000", "mark_price": "3000"}]}
        )
    )  # fmt: skip
    result = CliRunner().invoke(app, ["regime", str(account), "--window", "30d", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["assets"] == ["BTC", "ETH"] and document["episodes"] and document["windows"]
    bad = CliRunner().invoke(app, ["regime", str(account), "--window", "3x"])
    assert bad.exit_code == 2 and bad.output.startswith("error: window")
