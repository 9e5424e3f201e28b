"""The backtest's reports: the HTML page in headless Chromium and the PNG, from results built in the test.

The page must open with no console error and draw every chart (equity and drawdown with both modes
overlaid, health with the liquidation line, each symbol's liquidation price against its mark, funding),
each axis with its unit and the time axes as dates. Screenshots go to ``$CROSSMARGIN_SCREENSHOTS`` (see
``tests/test_report_html.py``, whose browser this test shares) and their paths are printed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossmargin.cli.backtest_png import write_png
from crossmargin.cli.backtest_report import write_html
from tests.sim_results import make_result, synthetic_pair
from tests.test_report_html import CHROMIUM, DRIVER, SCREENSHOTS, browser, layout, open_page, page_text

__all__ = ["browser"]  # the shared headless Chromium fixture

needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="Debian's chromium and chromium-driver are needed"
)


@needs_chromium
def test_the_report_of_both_modes_draws_every_chart_with_units(tmp_path: Path, browser):
    cross, isolated = synthetic_pair()
    page = tmp_path / "backtest.html"
    write_html([cross, isolated], page)
    open_page(browser, page, "backtest-both")
    charts = browser.execute_script("return document.querySelectorAll('.js-plotly-plot').length")
    assert charts == 4
    text = page_text(browser)
    for words in ("binance-usdm (rulebook as of 2026-11-24), strategy hold", "2021-05-01 to 2021-05-31",
                  "720 bars of 1 h", "modes: cross and isolated", "Equity and drawdown: cross against isolated",
                  "liquidation loss (USDT)", "1,219.92", "time below health 1.5 (of bars)"):  # fmt: skip
        assert words in text, words
    equity, traces = layout(browser, 0)
    assert [t["name"] for t in traces][:2] == ["equity, cross", "drawdown, cross"]
    assert {"equity, isolated", "liquidation, isolated"} <= {t["name"] for t in traces}
    assert equity["yaxis"]["title"]["text"] == "equity (USDT)" and equity["xaxis2"]["type"] == "date"
    assert equity["yaxis2"]["title"]["text"] == "drawdown from peak (%)"
    health, _ = layout(browser, 1)
    assert health["yaxis"]["type"] == "log" and health["xaxis"]["type"] == "date"
    assert {"health, cross", "health, isolated", "liquidation (health 1)", "health 1.5"} <= {
        t["name"] for t in layout(browser, 1)[1]
    }
    prices, price_traces = layout(browser, 2)
    assert prices["yaxis"]["title"]["text"] == "price (USDT)" and prices["yaxis2"]["title"]["text"] == "price (USDT)"
    names = {t["name"] for t in price_traces}
    assert {
        "BTCUSDT mark",
        "ETHUSDT liquidation price, isolated",
        "BTCUSDT buys",
        "ETHUSDT liquidation, isolated",
    } <= names
    funding, _ = layout(browser, 3)
    assert funding["yaxis"]["title"]["text"] == "cumulative funding (USDT, received +)"
    assert funding["xaxis"]["type"] == "date"


@needs_chromium
def test_the_report_of_one_mode(tmp_path: Path, browser):
    cross, _ = synthetic_pair(bars=96)
    page = tmp_path / "backtest-cross.html"
    write_html([cross], page)
    open_page(browser, page, "backtest-cross")
    text = page_text(browser)
    assert "modes: cross;" in text and "Equity and drawdown\n" in text and "None in any mode." in text


def test_the_png_draws_every_panel(tmp_path: Path):
    cross, isolated = synthetic_pair()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / "backtest-both-matplotlib.png"
    write_png([cross, isolated], path)
    print(f"png: {path}")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1210, 1507)  # 11 in wide at 110 dpi; four panels and two symbols tall
    assert len(data) > 100_000  # lines drawn, not an empty frame
    write_png([cross], tmp_path / "one.png")
    assert (tmp_path / "one.png").stat().st_size > 50_000


def test_a_run_that_never_traded_still_gives_every_report(tmp_path: Path):
    """One bar, no position (no health), a mark of NaN: pages and images, no error."""
    idle = make_result([10_000.0], initial="10000", final="10000")
    idle.marks = {"BTCUSDT": np.array([np.nan])}
    write_html([idle], tmp_path / "idle.html")
    write_png([idle], tmp_path / "idle.png")
    assert "None in any mode." in (tmp_path / "idle.html").read_text(encoding="utf-8")
    assert (tmp_path / "idle.png").stat().st_size > 10_000
