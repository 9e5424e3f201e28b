"""Pure margin functions: what a venue computes for an account at given prices.

Nothing here changes state or does I/O beyond reading an account file; the engine, the
risk lab, the simulator and the server all call these same functions.
"""

from crossmargin.margin.account import AccountSnapshot, account_from_json, load_account, parse_account
from crossmargin.margin.evaluate import Evaluation, evaluate_account
from crossmargin.margin.liquidation import PricePair, price_pair, solve_price
from crossmargin.margin.move import LiquidationMove, liquidation_move
from crossmargin.margin.pool import PoolFigures, PoolInput, pool_figures
from crossmargin.margin.position import notional, position_figures, unrealized_pnl
from crossmargin.margin.report import evaluation_to_json
from crossmargin.margin.types import MarginMode, Position, PositionFigures, PositionSide, Side

__all__ = [
    "AccountSnapshot",
    "Evaluation",
    "LiquidationMove",
    "MarginMode",
    "PoolFigures",
    "PoolInput",
    "Position",
    "PositionFigures",
    "PositionSide",
    "PricePair",
    "Side",
    "account_from_json",
    "evaluate_account",
    "evaluation_to_json",
    "liquidation_move",
    "load_account",
    "notional",
    "parse_account",
    "pool_figures",
    "position_figures",
    "price_pair",
    "solve_price",
    "unrealized_pnl",
]
