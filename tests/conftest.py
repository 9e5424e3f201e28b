"""Shared builders for the tests: instruments from published tables, positions, pools."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from crossmargin.margin import MarginMode, Position, PositionSide, Side
from crossmargin.rules import Instrument, load_rulebook
from crossmargin.rules.schema import Conventions

# Binance BTCUSDT leverage brackets as used by freqtrade's tests (tests/conftest.py::leverage_tiers,
# freqtrade@c9ae5e1e); reproduced in reference venue-rules.md §1.2. The FAQ's W8 example uses it too.
FREQTRADE_BTCUSDT_BRACKETS = [
    ("0", "50000", "125", "0.004", "0"),
    ("50000", "250000", "100", "0.005", "50"),
    ("250000", "1000000", "50", "0.01", "1300"),
    ("1000000", "7500000", "20", "0.025", "16300"),
    ("7500000", "40000000", "10", "0.05", "203800"),
    ("40000000", "100000000", "5", "0.10", "2203800"),
    ("100000000", "200000000", "4", "0.125", "4703800"),
    ("200000000", "400000000", "3", "0.15", "9703800"),
    ("400000000", "600000000", "2", "0.25", "49703800"),
    ("600000000", "1000000000", "1", "0.5", "199703800"),
]


def make_instrument(
    symbol: str = "TESTUSDT",
    *,
    kind: str = "linear",
    brackets: list[tuple[str, str, str, str, str]] | None = None,
    contract_size: str = "1",
    tick: str = "0.01",
    settlement: str | None = None,
    **extra: Any,
) -> Instrument:
    """An instrument from a bracket list of (floor, cap, max leverage, mmr, amount) strings."""
    rows = brackets if brackets is not None or "tiers" in extra else FREQTRADE_BTCUSDT_BRACKETS
    base = symbol[:3]
    data: dict[str, Any] = {
        "symbol": symbol,
        "kind": kind,
        "base_asset": base,
        "quote_asset": "USD" if kind == "inverse" else "USDT",
        "settlement_asset": settlement or (base if kind == "inverse" else "USDT"),
        "contract_size": contract_size,
        "tick_size": tick,
        "lot_size": "0.001" if kind == "linear" else "1",
        "tiers": [
            {"floor": f, "cap": c, "max_leverage": lev, "mmr": m, "maintenance_amount": a}
            for f, c, lev, m, a in rows or []
        ],
    }
    data.update(extra)
    return Instrument.model_validate(data)


def make_position(
    instrument: Instrument,
    side: str,
    size: str,
    entry: str,
    mark: str,
    *,
    mode: str = "cross",
    leverage: str = "20",
    isolated_margin: str | None = None,
    mmr: str | None = None,
    amount: str | None = None,
    leg: str = "both",
) -> Position:
    return Position(
        instrument=instrument,
        side=Side(side),
        size=D(size),
        entry_price=D(entry),
        mark_price=D(mark),
        margin_mode=MarginMode(mode),
        leverage=D(leverage),
        position_side=PositionSide(leg),
        isolated_margin=None if isolated_margin is None else D(isolated_margin),
        mmr_override=None if mmr is None else D(mmr),
        maintenance_amount_override=None if amount is None else D(amount),
    )


@pytest.fixture(scope="session")
def binance_conventions() -> Conventions:
    return load_rulebook("binance-usdm").conventions


def pytest_configure(config: pytest.Config) -> None:
    """Hypothesis: derandomised in CI so a failure there reproduces from the commit alone."""
    import os

    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI"):
        settings.load_profile("ci")
