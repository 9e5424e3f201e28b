"""Monte Carlo benchmark: 100,000 paths x 720 hourly steps x 5 assets (run by hand).

A five-asset cross account on Binance USD-M (BTC, ETH, XRP, LTC, ADA) over 30 days in 1 h
steps. Each model is timed beside NumPy drawing the same number of standard normals in the
same chunks (what the Gaussian model must do before any margin arithmetic), in the same run.
Then the first ``--exact-paths`` paths are fed to the engine itself (a copy of the account; all
marks at once each step, then funding at the funding times): the decision on every path must be
the same, and the 100,000-path estimate must lie within two standard errors of the engine's.

    python benchmarks/bench_montecarlo.py [--paths 100000] [--exact-paths 2000] [--seed 7]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from crossmargin.margin.account import parse_account
from crossmargin.risk.exact_paths import engine_decisions
from crossmargin.risk.models import build_model
from crossmargin.risk.montecarlo import CHUNK_PATHS, pool_of, simulate

ACCOUNT = {
    "venue": "binance-usdm",
    "balances": {"USDT": "25000"},
    "positions": [
        {"symbol": "BTCUSDT", "side": "long", "size": "1.5", "entry_price": "60000", "mark_price": "62000"},
        {"symbol": "ETHUSDT", "side": "long", "size": "25", "entry_price": "3000", "mark_price": "3100"},
        {"symbol": "XRPUSDT", "side": "short", "size": "40000", "entry_price": "0.6", "mark_price": "0.58"},
        {"symbol": "LTCUSDT", "side": "long", "size": "400", "entry_price": "80", "mark_price": "82"},
        {"symbol": "ADAUSDT", "side": "long", "size": "60000", "entry_price": "0.45", "mark_price": "0.44"},
    ],
}
STEPS = 720


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=100_000)
    parser.add_argument("--exact-paths", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    snapshot = parse_account(ACCOUNT)
    pool = pool_of(snapshot, None)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    for first in range(0, args.paths, CHUNK_PATHS):  # in the simulation's chunks, so memory is alike
        rng.standard_normal((min(CHUNK_PATHS, args.paths - first), STEPS, len(pool.assets)))
    floor = time.perf_counter() - start
    print(f"account: {', '.join(pool.assets)}; {args.paths:,} paths x {STEPS} steps x {len(pool.assets)} assets")
    print(f"baseline, NumPy drawing as many standard normals: {floor:.2f} s")
    results = {}
    for name in ("bootstrap", "student-t", "gaussian"):
        model = build_model(name, list(pool.assets), 1)
        simulate(pool, model, steps=10, paths=100, seed=0)  # compile outside the timing
        start = time.perf_counter()
        result = simulate(pool, model, steps=STEPS, paths=args.paths, seed=args.seed)
        elapsed = time.perf_counter() - start
        again = simulate(pool, model, steps=STEPS, paths=args.paths, seed=args.seed)
        same = np.array_equal(result.liquidated_at, again.liquidated_at)
        results[name] = (model, result)
        print(
            f"{name}: {elapsed:.2f} s (ratio {elapsed / floor:.2f}), liquidation probability "
            f"{result.liquidation_probability:.4f} +/- {result.standard_error:.4f}, same seed same paths: {same}"
        )
    model, result = results["bootstrap"]
    start = time.perf_counter()
    exact = engine_decisions(snapshot, pool, model, steps=STEPS, paths=args.exact_paths, seed=args.seed)
    elapsed = time.perf_counter() - start
    agree = int(np.sum(exact == result.liquidated_at[: args.exact_paths]))
    p_exact = float(np.mean(exact >= 0))
    se_exact = (p_exact * (1 - p_exact) / args.exact_paths) ** 0.5
    within = abs(result.liquidation_probability - p_exact) <= 2 * se_exact
    print(
        f"engine replay of {args.exact_paths:,} bootstrap paths ({elapsed:.0f} s): same decision (and step) on "
        f"{agree:,}; engine probability {p_exact:.4f} +/- {se_exact:.4f}; float estimate within 2 SE: {within}"
    )
    print("target: 100,000 x 720 x 5 in <= 10 s, reproducible with a seed")


if __name__ == "__main__":
    main()
