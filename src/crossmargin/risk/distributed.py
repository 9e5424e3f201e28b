"""Bulk health over Dask: the book split by account ranges, each part re-marked and confirmed on a worker.

One machine re-marks a million accounts in tens of milliseconds, so Dask is for books that do
not fit one machine's memory or when confirmations pile up after a crash (thousands of accounts
near the boundary, each confirmed exactly). A local cluster is started by default; give the
address of an existing scheduler (``tcp://host:8786``) to use its workers instead. The result is
the same :class:`BulkHealth` as :func:`crossmargin.risk.bulk.bulk_health`, part by part.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from crossmargin.risk.book import Book
from crossmargin.risk.bulk import DEFAULT_TOLERANCE, BulkHealth, bulk_health
from crossmargin.units import InputError


def partition(book: Book, parts: int) -> list[tuple[int, Book]]:
    """Split a book into ``parts`` books of consecutive accounts, each with its first account's index."""
    if parts < 1:
        raise InputError("partitions", f"must be at least 1, got {parts}")
    bounds = np.linspace(0, book.accounts, min(parts, max(book.accounts, 1)) + 1).astype(np.int64)
    pieces = []
    for first, stop in itertools.pairwise(bounds):
        rows = slice(int(book.account_start[first]), int(book.account_start[stop]))
        pieces.append(
            (
                int(first),
                replace(
                    book,
                    wallet=book.wallet[first:stop],
                    account_start=book.account_start[first : stop + 1] - book.account_start[first],
                    instrument=book.instrument[rows],
                    signed_size=book.signed_size[rows],
                    entry_price=book.entry_price[rows],
                    fixed_fee=book.fixed_fee[rows],
                    leverage=book.leverage[rows],
                ),
            )
        )
    return pieces


def bulk_health_dask(
    book: Book,
    prices: npt.ArrayLike,
    *,
    partitions: int = 8,
    scheduler: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> BulkHealth:
    """:func:`bulk_health` with the book's parts spread over a Dask cluster, then joined in order."""
    from dask.distributed import Client, LocalCluster

    marks = np.asarray(prices, dtype=np.float64)
    pieces = partition(book, partitions)
    if scheduler is None:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
        client = Client(cluster)
    else:
        cluster, client = None, Client(scheduler)
    try:
        futures = [client.submit(bulk_health, piece, marks, tolerance=tolerance, pure=False) for _, piece in pieces]
        results: list[BulkHealth] = client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    offsets = [first for first, _ in pieces]
    return BulkHealth(
        margin_balance=np.concatenate([r.margin_balance for r in results]),
        requirement=np.concatenate([r.requirement for r in results]),
        health=np.concatenate([r.health for r in results]),
        liquidatable=np.concatenate([r.liquidatable for r in results]),
        rechecked=np.concatenate([r.rechecked + first for r, first in zip(results, offsets, strict=True)]),
        corrected=sum(r.corrected for r in results),
    )
