"""The documents show what the commands do: the README's sample is what ``evaluate`` prints, and
``examples/README.md`` renders as one table listing every example."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_INTRO = "`crossmargin evaluate examples/binance-faq-cross.json` prints, in a terminal 80 columns wide:"


def readme_sample() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert SAMPLE_INTRO in text
    after = text[text.index(SAMPLE_INTRO) + len(SAMPLE_INTRO) :]
    match = re.match(r"\s*```text\n(.*?)```", after, re.S)
    assert match is not None, "the sample is the text block right after its introduction"
    return match.group(1)


def test_the_readme_sample_is_what_evaluate_prints():
    done = subprocess.run(
        [sys.executable, "-m", "crossmargin", "evaluate", "examples/binance-faq-cross.json"],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=120,
        env={**os.environ, "COLUMNS": "80", "NO_COLOR": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = "".join(line.rstrip() + "\n" for line in done.stdout.splitlines())
    assert readme_sample() == printed, "README.md's sample differs from the output; paste this:\n" + printed


def table_rows(lines: list[str]) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]


def test_examples_readme_is_one_valid_markdown_table_of_every_example():
    lines = (ROOT / "examples" / "README.md").read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(first, len(lines)) if not lines[i].startswith("|")), len(lines))
    rows = table_rows(lines[first:end])
    header, separator, body = rows[0], rows[1], rows[2:]
    assert all(re.fullmatch(r":?-{3,}:?", cell) for cell in separator) and len(separator) == len(header)
    assert all(len(row) == len(header) for row in body), "every row has the header's number of cells"
    assert not any(line.startswith("|") for line in lines[end:]), "no second table: a blank line split it"
    listed = {re.sub(r"`", "", row[0]) for row in body}
    assert listed == {path.name for path in (ROOT / "examples").glob("*.json")}
