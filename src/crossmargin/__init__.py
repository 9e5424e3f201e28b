"""crossmargin: exchange-accurate cross-margin figures for crypto derivatives venues.

What a venue computes for a cross-margin account (margin ratio, health, withdrawable amount,
liquidation and bankruptcy prices, the uniform move of every mark that liquidates the pool)
reproduced to the unit from the venue's own rulebook, and an engine that runs the account as
the venue would.

The main entry points, all available here at the top level::

    import crossmargin

    evaluation = crossmargin.evaluate("examples/binance-faq-cross.json")  # a file, a dict or a snapshot
    evaluation.pools[0].move                     # the liquidation move: LiquidationMove(down=..., up=...)
    crossmargin.evaluation_to_json(evaluation)   # the document `crossmargin evaluate --json` prints

    rulebook = crossmargin.load_rulebook("binance-usdm")   # a venue's rulebook (or "venue@date", a file)
    engine = crossmargin.Engine(rulebook)                  # commands in, result codes and events out

    account = crossmargin.import_account("binance-usdm", [Path("account.json"), Path("positionRisk.json")])
    crossmargin.evaluate(account)                # the venue's raw responses, evaluated

- ``evaluate(account)``: every pool's and isolated position's figures (an ``Evaluation``).
- ``load_account(path)`` / ``parse_account(document)``: a validated ``AccountSnapshot``.
- ``evaluation_to_json(evaluation)``: the JSON document of ``docs/interfaces.md``.
- ``load_rulebook(name)``: a venue's validated rulebook.
- ``Engine(rulebook)``: the event-sourced engine (``crossmargin.store`` makes it durable).
- ``import_account(venue, files)``: an account document from a venue's REST responses
  (``crossmargin.connect``).

The names are loaded on first use, so ``import crossmargin`` stays light.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from crossmargin.margin.account import AccountSnapshot
    from crossmargin.margin.evaluate import Evaluation

#: Top-level name -> the module that defines it.
_LAZY = {
    "Engine": "crossmargin.engine.core",
    "load_rulebook": "crossmargin.rules",
    "import_account": "crossmargin.connect",
    "load_account": "crossmargin.margin",
    "parse_account": "crossmargin.margin",
    "evaluation_to_json": "crossmargin.margin",
    "AccountSnapshot": "crossmargin.margin",
    "Evaluation": "crossmargin.margin.evaluate",
    "InputError": "crossmargin.units",
}

#: What ``from crossmargin import *`` and ``help(crossmargin)`` show; the classes behind them
#: (``AccountSnapshot``, ``Evaluation``, ``InputError``) load here too, on first use.
__all__ = [
    "Engine",
    "__version__",
    "evaluate",
    "evaluation_to_json",
    "import_account",
    "load_account",
    "load_rulebook",
    "parse_account",
]


def evaluate(account: AccountSnapshot | Mapping[str, Any] | str | os.PathLike[str]) -> Evaluation:
    """Evaluate an account: an ``AccountSnapshot``, an account document (a dict, as
    ``import_account`` returns it) or the path of an account JSON file.

    Bad input raises ``crossmargin.InputError`` naming the field.
    """
    from crossmargin.margin import evaluate_account, load_account, parse_account
    from crossmargin.margin.account import AccountSnapshot

    if isinstance(account, AccountSnapshot):
        snapshot = account
    elif isinstance(account, Mapping):
        snapshot = parse_account(dict(account))
    elif isinstance(account, (str, os.PathLike)):
        snapshot = load_account(os.fspath(account))
    else:
        from crossmargin.units import InputError

        raise InputError("account", f"must be an account snapshot, document or file path, got {type(account).__name__}")
    return evaluate_account(snapshot)


def __getattr__(name: str) -> Any:
    """Load a top-level name from its module on first use (``import_account`` once the build has it)."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'crossmargin' has no attribute {name!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        raise AttributeError(f"crossmargin.{name} needs {module_name}, which this build does not have") from None
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
