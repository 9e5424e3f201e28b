"""Reading recorded raw responses and writing ccxt's parsed output, for the fixture recorders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def load_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def dump_json(obj: Any, path: Path) -> None:
    """Write ccxt output as the fixtures store it: ``default=str``, indent 1, final newline."""
    with path.open("w", encoding="utf-8") as handle:
        json.dump(obj, handle, default=str, indent=1)
        handle.write("\n")
