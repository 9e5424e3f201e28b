"""The backtest's terminal tables at 80 columns: no line wider, no figure cut, units in the figure names.

Each table is rendered on a Console 80 columns wide (and 60, narrower than any terminal in use); every
amount the JSON document holds must appear whole, formatted for reading.
"""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console

from crossmargin.cli.backtest_tables import render_comparison, render_summary
from crossmargin.cli.formats import amount
from crossmargin.sim import stats
from crossmargin.sim.types import Liquidation
from tests.sim_results import make_result, synthetic_pair


def text_of(renderable, width: int = 80) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_comparison_fits_80_columns_with_every_figure_whole():
    cross, isolated = synthetic_pair()
    for width in (80, 60):
        text = text_of(render_comparison(cross, isolated, Console(width=width)), width)
        assert max(len(line) for line in text.splitlines()) <= width
        for result in (cross, isolated):
            figures = stats.statistics(result)
            for value in (result.final_equity, figures.fees_paid, figures.funding_paid, figures.liquidation_loss):
                assert amount(value, "USDT") in text, value
    for name in ("final equity (USDT)", "liquidation loss (USDT)", "funding paid (USDT)", "fees paid (USDT)",
                 "max drawdown", "time below health 1.5 (of bars)", "cross", "isolated"):  # fmt: skip
        assert name in text, name
    difference = amount(abs(cross.final_equity - isolated.final_equity), "USDT")
    winner = "cross" if cross.final_equity > isolated.final_equity else "isolated"
    assert f"{winner} ended {difference} USDT above" in text


def test_a_large_account_and_its_liquidations_stay_whole_at_80_columns():
    liquidation = Liquidation(1_620_000_000_000, "BTCUSDT", "sell", Decimal("1234.567"), Decimal("123456.7"),
                              "partial", Decimal("-98765432.1"), Decimal("4321.5"))  # fmt: skip
    result = make_result([1e9, 9.87e8], initial="1000000000", final="987654321.987654321",
                         liquidations=[liquidation])  # fmt: skip
    text = text_of(render_summary(result, Console(width=80)))
    assert max(len(line) for line in text.splitlines()) <= 80
    for figure in ("987,654,321.99", "-1.23 %", "1,234.567", "123,456.7", "98,769,753.60", "partial",
                   "2021-05-03 00:00"):  # fmt: skip
        assert figure in text, figure
    assert "strategy hold" in text and "binance-usdm" in text and "2 bars of 1 h" in text


def test_an_undefined_ratio_reads_as_such():
    flat = make_result([100.0] * 5, initial="100", final="100")
    text = text_of(render_summary(flat, Console(width=80)))
    assert "Sharpe (annualised)" in text and " -- " in text and "--: undefined for this run" in text
