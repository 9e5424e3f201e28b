"""Rounding an evaluation for output, in the venue's favour, as DESIGN "Interfaces" spells it.

Requirements (initial and maintenance margin, notional) round up to the settlement asset's
smallest unit; balances, PnL, available and withdrawable amounts round down; the margin
ratio rounds toward "riskier" and health down. Liquidation and bankruptcy prices are given as
the venue's API prints them (the rulebook's ``price_reporting``), and snapped to the tick
toward the venue's safety under ``*_tick``.
Every number leaves as a decimal string; a figure that does not exist is ``None`` (null).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crossmargin.margin.evaluate import Evaluation, IsolatedReport, PoolReport
from crossmargin.margin.liquidation import PricePair
from crossmargin.margin.pool import AssetFigures, asset_breakdown
from crossmargin.margin.reported import ReportedFigures, compare_block
from crossmargin.margin.types import PositionFigures
from crossmargin.rules.schema import PriceReporting
from crossmargin.units import RATIO_UNIT, Rounding, div, quantize, to_decimal_string


def _money(value: Decimal, unit: Decimal, rounding: Rounding) -> str | None:
    return to_decimal_string(quantize(value, unit, rounding=rounding))


def _ratio(value: Decimal | None, rounding: Rounding) -> str | None:
    if value is None:
        return None
    return to_decimal_string(quantize(value, RATIO_UNIT, rounding=rounding))


def _position(figures: PositionFigures, prices: PricePair, unit: Decimal, reporting: PriceReporting) -> dict[str, Any]:
    position = figures.position
    liquidation, bankruptcy = prices.reported(reporting, position.instrument.tick_size)
    down, up = prices.reported_sides(reporting, position.instrument.tick_size)
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
        "liquidation_price": to_decimal_string(liquidation),
        "liquidation_prices": {"down": to_decimal_string(down), "up": to_decimal_string(up)},
        "bankruptcy_price": to_decimal_string(bankruptcy),
        "liquidation_price_tick": to_decimal_string(prices.liquidation_price),
        "bankruptcy_price_tick": to_decimal_string(prices.bankruptcy_price),
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
            _position(
                f, p, evaluation.snapshot.rulebook.asset_unit(f.position.settlement_asset), conventions.price_reporting
            )
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
    reporting = evaluation.snapshot.rulebook.conventions.price_reporting
    entry = _position(figures, report.prices, unit, reporting)
    entry["settlement_asset"] = figures.position.settlement_asset
    entry["isolated_margin"] = _money(report.isolated_margin, unit, Rounding.FLOOR)
    entry["margin_balance"] = _money(report.margin_balance, unit, Rounding.FLOOR)
    entry["health"] = _ratio(report.health(), Rounding.FLOOR)
    entry["margin_ratio"] = _isolated_ratio(report, evaluation)
    entry["liquidatable"] = report.liquidatable
    return entry


def _isolated_ratio(report: IsolatedReport, evaluation: Evaluation) -> str | None:
    """An isolated position's margin ratio in the venue's convention (as a pool's)."""
    if evaluation.snapshot.rulebook.conventions.margin_ratio == "equity_over_maintenance":
        return _ratio(report.health(), Rounding.FLOOR)
    if report.margin_balance <= 0:
        return None
    return _ratio(div(report.figures.requirement, report.margin_balance, rounding=Rounding.CEILING), Rounding.CEILING)


def _where(pool: str | None, position: dict[str, Any] | None) -> dict[str, Any]:
    if position is None:
        return {"pool": pool}
    keys = ("symbol", "position_side", "margin_mode")
    return {"pool": pool, **{key: position[key] for key in keys}}


UP = Rounding.CEILING  # a tolerance is never understated


def _attach_reported(document: dict[str, Any], evaluation: Evaluation, reported: ReportedFigures) -> None:
    """Put the venue's figures beside ours (``reported`` blocks) and list the disagreements."""
    disagreements: list[dict[str, Any]] = []
    compared = 0
    rulebook = evaluation.snapshot.rulebook

    def attach(target: dict[str, Any], figures: dict[str, Decimal | None] | None, where: dict[str, Any]) -> None:
        nonlocal compared
        if not figures:
            return
        steps: dict[str, Decimal] = {}
        inputs: dict[str, Decimal] = {}
        if "symbol" in where:  # a price printed at the tick was rounded to it, not to its last digit
            instrument = rulebook.instrument(where["symbol"])
            prices = ("liquidation_price", "bankruptcy_price")
            steps = {
                name: instrument.tick_size
                for name in prices
                if name + "_tick" not in target or target[name] == target[name + "_tick"]
            }
            if instrument.kind == "linear":  # one unit of the printed margin moves a price by unit / size
                moved = div(rulebook.asset_unit(instrument.settlement_asset), Decimal(target["size"]), rounding=UP)
                moved = quantize(moved, RATIO_UNIT, rounding=UP)
                inputs = dict.fromkeys(prices, moved)
        block = compare_block(figures, target, steps, inputs)
        target["reported"] = block
        compared += len(block)
        for name, row in block.items():
            if not row["agrees"]:
                disagreements.append({**where, "figure": name, **{k: v for k, v in row.items() if k != "agrees"}})

    for pool in document["pools"]:
        attach(pool, reported.pools.get(pool["settlement_asset"]), _where(pool["settlement_asset"], None))
        for position in pool["positions"]:
            key = (position["symbol"], position["position_side"], position["margin_mode"])
            attach(position, reported.positions.get(key), _where(pool["settlement_asset"], position))
    for position in document["isolated"]:
        key = (position["symbol"], position["position_side"], position["margin_mode"])
        attach(position, reported.positions.get(key), _where(None, position))
    document["reported"] = {
        "sources": [{"endpoint": s.endpoint, "time": s.time} for s in reported.sources],
        "compared": compared,
        "disagreements": disagreements,
    }


def evaluation_to_json(evaluation: Evaluation) -> dict[str, Any]:
    """The ``crossmargin evaluate --json`` document.

    An imported account adds the venue's own figures beside ours (``reported``) and the
    rulebook values its ``instruments`` replaced (``overrides``).
    """
    rulebook = evaluation.snapshot.rulebook
    document = {
        "venue": rulebook.venue,
        "rulebook_as_of": rulebook.data.as_of.isoformat(),
        "asset_mode": evaluation.snapshot.asset_mode,
        "liquidatable": evaluation.liquidatable,
        "pools": [_pool(p, evaluation) for p in evaluation.pools],
        "isolated": [_isolated(i, evaluation) for i in evaluation.isolated],
    }
    snapshot = evaluation.snapshot
    if snapshot.reported is not None:
        _attach_reported(document, evaluation, snapshot.reported)
    if snapshot.overrides:
        document["overrides"] = [
            {"symbol": o.symbol, "key": o.key, "rulebook": o.rulebook, "account": o.account} for o in snapshot.overrides
        ]
    return document
