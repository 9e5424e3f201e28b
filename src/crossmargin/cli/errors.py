"""Turning a refusal into one line on stderr and an exit code, never a traceback.

Every command uses the same codes for the same kind of error, so a script can tell them apart:

- 2: the input is wrong (a file, an argument, an option, a store URL naming nothing): fix it
  and run again. The line starts with the field, the option or the file it is about.
- 1: the command ran and something failed: an expectation of a scenario, or the store (the
  log's hash chain is broken, the database is unreachable or refuses a write).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from crossmargin.store.base import StoreError
from crossmargin.units import InputError

P = ParamSpec("P")
R = TypeVar("R")

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` to stderr and return the exit to raise (code 2: bad input)."""
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(EXIT_BAD_INPUT)


def store_failure(error: Exception) -> typer.Exit:
    """Print the store's error to stderr and return the exit to raise (code 1: the store failed)."""
    print(f"error: {error}", file=sys.stderr)
    return typer.Exit(EXIT_FAILED)


def input_errors_exit(function: Callable[P, R]) -> Callable[P, R]:
    """Run a command so that an :class:`InputError` is one line and exit 2, a :class:`StoreError` exit 1."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except InputError as error:
            raise fail(str(error)) from None
        except StoreError as error:
            raise store_failure(error) from None

    return wrapper
