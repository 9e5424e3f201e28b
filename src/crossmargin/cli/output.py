"""Files a command writes (``--html``, ``--output``): checked before the work, written in one go.

Why check first: a Monte Carlo run or a full report takes minutes, and a typo in the folder
of ``--html`` must not cost them. :func:`check_output_file` refuses, before anything is
computed, a target that is a folder, sits in a folder that does not exist, or cannot be
written; :func:`write_output_file` turns whatever still goes wrong at the end (a full disk)
into the same one-line error.
"""

from __future__ import annotations

import os
from pathlib import Path

from crossmargin.units import InputError


def check_output_file(path: Path | None, option: str) -> None:
    """Refuse, naming ``option``, a path that cannot take a new file (``None``: nothing to write)."""
    if path is None:
        return
    if path.is_dir():
        raise InputError(option, f"{path} is a folder; give a file name such as {path / 'report.html'}")
    folder = path.parent
    if not folder.exists():
        raise InputError(option, f"the folder {folder} does not exist (create it first)")
    if not folder.is_dir():
        raise InputError(option, f"{folder} is not a folder")
    target = path if path.exists() else folder
    if not os.access(target, os.W_OK):
        raise InputError(option, f"{target} is not writable")


def write_output_file(path: Path, text: str, option: str) -> None:
    """Write ``text`` as UTF-8 to ``path``; a failure is one line naming ``option`` and the path."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise InputError(option, f"cannot write {path} ({error.strerror or error})") from None
