"""Rounding an evaluation for output, in the venue's favour, as DESIGN "Interfaces" spells it.

Requirements (initial and maintenance margin, notional) round up to the settlement asset's
smallest unit; balances, PnL, available and withdrawable amounts round down; the margin
ratio rounds toward "riskier" and health down. Prices were already rounded to the tick.
Every number leaves as a decimal string; a figure that does not exist is ``None`` (null).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crossmargin.margin.evaluate import Evaluation, IsolatedReport, PoolReport
from crossmargin.margin.liquidation import PricePair
from crossmargin.margin.pool import AssetFigures, asset_breakdown
from crossmargin.margin.types import PositionFigures
from crossmargin.units import RATIO_UNIT, Rounding, quantize, to_decimal_string


def _money(value: Decimal, unit: Decimal, rounding: Rounding) -> str | None:
    return to_decimal_string(quantize(value, unit, rounding=rounding))


def _ratio(value: Decimal | None, rounding: Rounding) -> str | None:
    if value is None:
        return None
    return to_decimal_string(quantize(value, RATIO_UNIT, rounding=rounding))


def _position(figures: PositionFigures, prices: PricePair, unit: Decimal) -> dict[str, Any]:
    position = figures.position
    return {
        "symbol": position.symbol,
        "side": position.side.value,
        "position_side": position.position_side.value,
        "margin_mode": position.margin_mode.value,
        "size": to_decimal_string(position.size),
        "entry_price": to_decimal_string(position.entry_price),
        "mark_price": to_decimal_string(position.mark_price),
        "leverage": to_decimal_string(figures.effective_leverage),
        "notional": _money(figures.notional, unit, Rounding.CEILING),
        "unrealized_pnl": _money(figures.unrealized_pnl, unit, Rounding.FLOOR),
        "initial_margin": _money(figures.initial_margin, unit, Rounding.CEILING),
        "maintenance_margin": _money(figures.maintenance_margin, unit, Rounding.CEILING),
        "mmr": to_decimal_string(figures.rate.mmr),
        "maintenance_amount": to_decimal_string(figures.rate.amount),
        "tier": None if figures.rate.tier_index is None else figures.rate.tier_index + 1,
        "liquidation_price": to_decimal_string(prices.liquidation_price),
        "bankruptcy_price": to_decimal_string(prices.bankruptcy_price),
    }


def _pool(report: PoolReport, evaluation: Evaluation) -> dict[str, Any]:
    figures = report.figures
    asset = figures.pool.settlement_asset
    unit = evaluation.snapshot.rulebook.asset_unit(asset)
    conventions = evaluation.snapshot.rulebook.conventions
    ratio_rounding = Rounding.CEILING if conventions.margin_ratio == "maintenance_over_equity" else Rounding.FLOOR
    document: dict[str, Any] = {
        "settlement_asset": asset,
        "liquidatable": report.liquidatable,
        "wallet_balance": _money(figures.wallet_balance, unit, Rounding.FLOOR),
        "unrealized_pnl": _money(figures.unrealized_pnl, unit, Rounding.FLOOR),
        "margin_balance": _money(figures.margin_balance, unit, Rounding.FLOOR),
        "initial_margin": _money(figures.initial_margin, unit, Rounding.CEILING),
        "open_order_initial_margin": _money(figures.open_order_initial_margin, unit, Rounding.CEILING),
        "maintenance_margin": _money(figures.requirement, unit, Rounding.CEILING),
        "margin_ratio": _ratio(figures.margin_ratio(conventions), ratio_rounding),
        "health": _ratio(figures.health(), Rounding.FLOOR),
        "available_balance": _money(figures.available_balance, unit, Rounding.FLOOR),
        "max_withdrawable": _money(figures.max_withdrawable, unit, Rounding.FLOOR),
        "liquidation_move": {
            "down": to_decimal_string(report.move.down),
            "up": to_decimal_string(report.move.up),
        },
        "positions": [
            _position(f, p, evaluation.snapshot.rulebook.asset_unit(f.position.settlement_asset))
            for f, p in zip(figures.positions, report.prices, strict=True)
        ],
    }
    if figures.pool.valuation is not None:
        document["assets"] = [_asset(row, evaluation) for row in asset_breakdown(figures, conventions)]
    return document


def _asset(row: AssetFigures, evaluation: Evaluation) -> dict[str, Any]:
    unit = evaluation.snapshot.rulebook.asset_unit(row.asset)
    usd = evaluation.snapshot.rulebook.asset_unit("USD")
    return {
        "asset": row.asset,
        "wallet_balance": _money(row.wallet_balance, unit, Rounding.FLOOR),
        "equity": _money(row.equity, unit, Rounding.FLOOR),
        "price": to_decimal_string(row.price),
        "value_usd": _money(row.value_usd, usd, Rounding.FLOOR),
        "available": _money(row.available, unit, Rounding.FLOOR),
    }


def _isolated(report: IsolatedReport, evaluation: Evaluation) -> dict[str, Any]:
    figures = report.figures
    unit = evaluation.snapshot.rulebook.asset_unit(figures.position.settlement_asset)
    entry = _position(figures, report.prices, unit)
    entry["settlement_asset"] = figures.position.settlement_asset
    entry["isolated_margin"] = _money(report.isolated_margin, unit, Rounding.FLOOR)
    entry["margin_balance"] = _money(report.margin_balance, unit, Rounding.FLOOR)
    entry["health"] = _ratio(report.health(), Rounding.FLOOR)
    entry["liquidatable"] = report.liquidatable
    return entry


def evaluation_to_json(evaluation: Evaluation) -> dict[str, Any]:
    """The ``crossmargin evaluate --json`` document."""
    rulebook = evaluation.snapshot.rulebook
    return {
        "venue": rulebook.venue,
        "rulebook_as_of": rulebook.data.as_of.isoformat(),
        "asset_mode": evaluation.snapshot.asset_mode,
        "liquidatable": evaluation.liquidatable,
        "pools": [_pool(p, evaluation) for p in evaluation.pools],
        "isolated": [_isolated(i, evaluation) for i in evaluation.isolated],
    }
