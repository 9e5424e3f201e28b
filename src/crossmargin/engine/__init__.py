"""The account engine: the only code that changes state (commands -> events -> ledger).

Its modules import one way, top down (``tests/test_static.py`` checks it):

- the dispatch, :mod:`~crossmargin.engine.core` (:class:`Engine` and its ``execute``), which routes
  each command to its handler;
- the handlers, by concern: money and settings (``funds``, ``settings``, ``imports``); orders and
  fills (``trading``, ``fills``); market data and funding (``market``, ``funding``); liquidation and
  its settlement (``liquidation``, ``partial``, ``multi_liquidation``, ``exchange`` for the
  auto-exchange, ``settlement``, ``deleverage``);
- the primitives every handler shares: :mod:`~crossmargin.engine.base` (the state a handler reads
  and writes, accept and reject, lookups, money rounding, the margin functions' view, posting to
  the ledger) and :mod:`~crossmargin.engine.watch` (safe-price bands);
- plain data: ``state``, ``positions``, ``ledger``, ``commands``, ``codec``, ``depth``, ``oracle``.
"""

from crossmargin.engine.core import Engine

__all__ = ["Engine"]
