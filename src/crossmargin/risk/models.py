"""Joint return models for Monte Carlo: Gaussian, fitted Student-t, and block bootstrap of real data.

Each model draws log returns per step for a list of assets, in chunks of paths, from a seed:
the same seed and chunk size give the same paths on any machine. ``step_hours`` is the step
length; a year is 365 days, as crypto trades every day.

- ``gaussian``: log returns with mean ``drift x dt`` and covariance from annualised
  volatilities and correlations (the user's, or estimated from the shipped hourly data).
- ``student-t``: a multivariate t with the data's correlation, each asset's scale and one
  shared degrees of freedom fitted to the shipped hourly returns (fat tails, joint crashes).
- ``bootstrap``: blocks of consecutive real hourly returns drawn jointly for all assets, so
  crashes keep their cross-asset shape and their clustering within a block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from crossmargin.risk.history import HourlyHistory, load_history
from crossmargin.units import InputError

HOURS_PER_YEAR = 365 * 24
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ReturnModel:
    """How to draw ``(paths, steps, assets)`` log returns; build one with :func:`build_model`."""

    name: str
    assets: tuple[str, ...]
    step_hours: int
    mean: F64  # per step, per asset (gaussian, student-t)
    cholesky: F64  # of the per-step covariance (gaussian) or correlation x scale (student-t)
    degrees_of_freedom: float = 0.0
    history: F64 | None = None  # hourly log returns, rows where every asset has data (bootstrap)
    block_steps: int = 24

    def draw(self, rng: np.random.Generator, paths: int, steps: int) -> F64:
        """Log returns for ``paths`` x ``steps`` x assets."""
        if self.name == "bootstrap":
            return self._bootstrap(rng, paths, steps)
        normals = rng.standard_normal((paths, steps, len(self.assets)))
        shocks = normals @ self.cholesky.T
        if self.name == "student-t":
            nu = self.degrees_of_freedom
            shocks *= np.sqrt((nu - 2) / rng.chisquare(nu, (paths, steps, 1)))
        shocks += self.mean
        out: F64 = shocks
        return out

    def _bootstrap(self, rng: np.random.Generator, paths: int, steps: int) -> F64:
        assert self.history is not None
        hours = self.step_hours
        block_hours = self.block_steps * hours
        blocks = -(-steps // self.block_steps)
        starts = rng.integers(0, len(self.history) - block_hours + 1, (paths, blocks))
        offsets = np.arange(block_hours)
        rows = (starts[:, :, None] + offsets).reshape(paths, blocks * block_hours)[:, : steps * hours]
        hourly = self.history[rows]  # paths x (steps x hours) x assets
        out: F64 = hourly.reshape(paths, steps, hours, len(self.assets)).sum(axis=2)
        return out


def build_model(
    name: str,
    assets: list[str],
    step_hours: int,
    *,
    vols: dict[str, float] | None = None,
    correlations: dict[tuple[str, str], float] | None = None,
    drift: float = 0.0,
    history: HourlyHistory | None = None,
) -> ReturnModel:
    """A model for ``assets`` at ``step_hours``; data-derived figures come from the shipped history."""
    if step_hours < 1:
        raise InputError("step", "must be at least one hour")
    if name not in ("gaussian", "student-t", "bootstrap"):
        raise InputError("model", f"must be bootstrap, student-t or gaussian, got {name!r}")
    data = history if history is not None else load_history()
    needs_data = name != "gaussian" or not vols or len(vols) < len(assets) or correlations is None
    hourly = data.joint(assets, field="model") if needs_data else None
    if name == "bootstrap":
        assert hourly is not None
        return ReturnModel(name, tuple(assets), step_hours, np.zeros(len(assets)), np.eye(len(assets)), history=hourly)
    dt = step_hours / HOURS_PER_YEAR
    sigma = _vols(assets, vols, hourly)
    corr = _correlation(assets, correlations, hourly)
    if name == "gaussian":
        covariance = corr * np.outer(sigma, sigma) * dt
        return ReturnModel(name, tuple(assets), step_hours, np.full(len(assets), drift * dt), _cholesky(covariance))
    assert hourly is not None
    nu = _fit_degrees_of_freedom(hourly)
    scale = corr * np.outer(sigma, sigma) * dt  # the t's covariance, once scaled by (nu - 2) / nu
    return ReturnModel(name, tuple(assets), step_hours, np.zeros(len(assets)), _cholesky(scale), nu)


def _vols(assets: list[str], vols: dict[str, float] | None, hourly: F64 | None) -> F64:
    sigma = np.empty(len(assets))
    for n, asset in enumerate(assets):
        if vols and asset in vols:
            if not vols[asset] > 0:
                raise InputError(f"vol.{asset}", f"must be positive, got {vols[asset]}")
            sigma[n] = vols[asset]
        else:
            assert hourly is not None
            sigma[n] = float(np.std(hourly[:, n])) * np.sqrt(HOURS_PER_YEAR)
    return sigma


def _correlation(assets: list[str], given: dict[tuple[str, str], float] | None, hourly: F64 | None) -> F64:
    corr: F64 = np.atleast_2d(np.corrcoef(hourly, rowvar=False)) if hourly is not None else np.eye(len(assets))
    for (a, b), value in (given or {}).items():
        for name in (a, b):
            if name not in assets:
                raise InputError(f"corr.{a}:{b}", f"{name} is not an asset of the account ({', '.join(assets)})")
        if not -1 <= value <= 1:
            raise InputError(f"corr.{a}:{b}", f"must lie in [-1, 1], got {value}")
        i, j = assets.index(a), assets.index(b)
        corr[i, j] = corr[j, i] = value
    return corr


def _cholesky(matrix: F64) -> F64:
    try:
        lower: F64 = np.linalg.cholesky(matrix).astype(np.float64)
    except np.linalg.LinAlgError:
        raise InputError("corr", "the correlations do not form a valid (positive definite) matrix") from None
    return lower


def _fit_degrees_of_freedom(hourly: F64) -> float:
    """One shared degrees of freedom from the returns' excess kurtosis (6 / (nu - 4)), kept above
    4 so the variance and kurtosis exist."""
    centred = hourly - hourly.mean(axis=0)
    kurtosis = (centred**4).mean(axis=0) / (centred**2).mean(axis=0) ** 2 - 3
    excess = float(np.median(kurtosis))
    return 4.0 + 6.0 / excess if excess > 0.06 else 100.0
