"""Bulk health benchmark: 1,000,000 accounts x 4 positions over 200 instruments (run by hand).

Re-marks the whole book on a new price vector and classifies every account (margin balance,
requirement, health, liquidatable flag and the near-boundary band), and times NumPy reading
the same input arrays once (a sum over each) in the same run: the ratio is the figure that
survives a noisy machine. Then the exact confirmation of the flagged and near-boundary
accounts (margin functions, one by one) is timed on its own.

    python benchmarks/bench_bulk.py [--accounts 1000000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from importlib import resources
from typing import Any

import numpy as np
import yaml

from crossmargin.risk.book import Book, InstrumentTable, build_book
from crossmargin.risk.bulk import exact_liquidatable, remark
from crossmargin.rules import load_rulebook
from crossmargin.rules.registry import parse_rulebook

INSTRUMENTS = 200
POSITIONS_PER_ACCOUNT = 4


def rulebook_with(count: int) -> Any:
    """The generic venue with ``count`` linear USD instruments (BTC-PERP's tiers, other names)."""
    name = load_rulebook("generic").source_path
    raw = yaml.safe_load((resources.files("crossmargin.rules.data") / name).read_text(encoding="utf-8"))
    template = next(i for i in raw["instruments"] if i["symbol"] == "BTC-PERP")
    raw["instruments"] = []
    for n in range(count):
        instrument = copy.deepcopy(template)
        instrument["symbol"] = f"I{n:03d}-PERP"
        instrument["ccxt_symbol"] = f"I{n:03d}/USD:USD"
        raw["instruments"].append(instrument)
    return parse_rulebook(raw, origin="bench-200")


def make_book(accounts: int, seed: int) -> tuple[Book, np.ndarray]:
    rng = np.random.default_rng(seed)
    table = InstrumentTable.from_rulebook(rulebook_with(INSTRUMENTS))
    marks = np.round(rng.uniform(1, 1000, INSTRUMENTS), 1)
    positions = accounts * POSITIONS_PER_ACCOUNT
    starts = np.arange(0, positions + 1, POSITIONS_PER_ACCOUNT, dtype=np.int64)
    rows = rng.integers(0, INSTRUMENTS, positions)
    notional = np.exp(rng.uniform(np.log(100), np.log(2e6), positions))
    size = np.round(notional / marks[rows], 4) + 0.0001
    size *= rng.choice([-1.0, 1.0], positions)
    entry = np.round(marks[rows] * rng.uniform(0.97, 1.03, positions), 1)
    per_account = np.add.reduceat(np.abs(size) * marks[rows], starts[:-1])
    wallet = np.round(per_account * rng.uniform(0.03, 0.3, accounts), 2)
    return build_book(table, wallet, starts, rows, size, entry), marks


def read_once(book: Book, prices: np.ndarray) -> float:
    """NumPy reading every input array once: the floor any re-mark has to pay."""
    return float(
        book.wallet.sum()
        + book.account_start.sum()
        + book.instrument.sum()
        + book.signed_size.sum()
        + book.entry_price.sum()
        + book.fixed_fee.sum()
        + prices.sum()
    )


def classify(book: Book, prices: np.ndarray) -> np.ndarray:
    """Figures, flags and the near-boundary band for every account; the accounts to confirm."""
    return np.flatnonzero(remark(book, prices).status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    book, marks = make_book(args.accounts, seed=3)
    rng = np.random.default_rng(5)
    classify(book, marks)  # compile once
    bulk, floor = [], []
    suspects = np.empty(0, dtype=np.int64)
    for _ in range(args.repeat):
        prices = marks * rng.uniform(0.98, 1.02, INSTRUMENTS)
        start = time.perf_counter()
        read_once(book, prices)
        floor.append(time.perf_counter() - start)
        start = time.perf_counter()
        suspects = classify(book, prices)
        bulk.append(time.perf_counter() - start)
    start = time.perf_counter()
    for account in suspects[:2000]:
        exact_liquidatable(book, int(account), prices)
    checked = min(len(suspects), 2000)
    exact_each = (time.perf_counter() - start) / max(checked, 1)
    median, reading = statistics.median(bulk), statistics.median(floor)
    print(f"book: {book.accounts:,} accounts, {book.positions:,} positions, {INSTRUMENTS} instruments")
    print(f"re-mark and classify: median {median * 1000:.1f} ms (runs {min(bulk) * 1000:.1f}-{max(bulk) * 1000:.1f})")
    print(f"NumPy reading the same arrays once: median {reading * 1000:.1f} ms; ratio {median / reading:.2f}")
    print(f"flagged or near the boundary at the last prices: {len(suspects):,} accounts")
    print(f"exact confirmation: {exact_each * 1e6:.0f} us per account ({checked} timed)")
    print("targets: median <= 100 ms and ratio <= 3")


if __name__ == "__main__":
    main()
