"""Every command refuses bad input in one line with exit code 2, never a traceback, and refuses it
before the work where it can be checked before (a --html target before a minutes-long run).

Each case was a traceback or a late failure before: an unwritable --html target raised at the very
end of the run, a negative seed raised inside numpy, deep nesting raised RecursionError, a non-UTF-8
file raised UnicodeDecodeError, a key given twice was silently dropped.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CCXT = ROOT / "tests" / "fixtures" / "ccxt"
ACCOUNT = {
    "venue": "generic",
    "balances": {"USD": "30000"},
    "positions": [
        {"symbol": "BTC-PERP", "side": "long", "size": "2", "entry_price": "50000", "mark_price": "51000"},
        {"symbol": "ETH-PERP", "side": "long", "size": "20", "entry_price": "3000", "mark_price": "2950"},
    ],
}


def run(*args: str | Path, stdin: bytes | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "crossmargin", *map(str, args)],
        input=stdin,
        capture_output=True,
        check=False,
        cwd=cwd,
        timeout=300,
    )
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


def refused(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Exit 2, nothing on stdout, one line on stderr holding every ``expected`` text."""
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def account(tmp_path: Path) -> Path:
    path = tmp_path / "account.json"
    path.write_text(json.dumps(ACCOUNT))
    return path


HTML_COMMANDS = {
    "stress": ["--uniform", "-0.1"],
    "montecarlo": ["--paths", "100"],
    "guard": [],
    "regime": [],
    "report": ["--paths", "100"],
}


@pytest.mark.parametrize("command", sorted(HTML_COMMANDS))
@pytest.mark.parametrize("target", ["missing folder", "a folder"])
def test_an_unwritable_html_target_is_refused_before_anything_is_read(tmp_path: Path, command: str, target: str):
    html = tmp_path / "absent" / "report.html" if target == "missing folder" else tmp_path
    # The account does not exist either: the --html check comes first, before any file is read.
    done = run(command, tmp_path / "no-account.json", *HTML_COMMANDS[command], "--html", html)
    line = refused(done, "--html")
    assert ("does not exist" if target == "missing folder" else "is a folder") in line
    assert not (tmp_path / "absent").exists()


def test_the_html_check_comes_before_a_long_monte_carlo(account: Path, tmp_path: Path):
    started = time.monotonic()
    done = run(
        "montecarlo", account, "--paths", "1000000", "--horizon", "365d", "--html", tmp_path / "absent" / "mc.html"
    )
    refused(done, "--html", "does not exist")
    assert time.monotonic() - started < 60  # the run itself would take many minutes


@pytest.mark.parametrize("command", ["montecarlo", "report"])
def test_a_negative_seed_is_refused(account: Path, tmp_path: Path, command: str):
    extra = ["--html", str(tmp_path / "r.html")] if command == "report" else []
    refused(run(command, account, "--seed", "-1", "--paths", "10", *extra), "seed: must be a whole number 0 or above")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--paths", "1000001"], "paths: must lie between 1 and 1,000,000"),
        (["--paths", "0"], "paths: must lie between 1"),
        (["--horizon", "100w"], "horizon: must be at most 365d, got 700d"),
    ],
)
def test_monte_carlo_sizes_past_the_documented_limits_are_refused(account: Path, args: list[str], expected: str):
    refused(run("montecarlo", account, *args), expected)


def test_report_paths_past_the_limit_are_refused(account: Path, tmp_path: Path):
    refused(run("report", account, "--paths", "20000000", "--html", tmp_path / "r.html"), "paths: must lie")


DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize("text", [DEEP, '{"venue": ' + "[" * 150 + "]" * 150 + "}"], ids=["5000", "150"])
@pytest.mark.parametrize("command", ["evaluate", "stress", "guard"])
def test_deeply_nested_json_is_one_line(tmp_path: Path, command: str, text: str):
    path = tmp_path / "deep.json"
    path.write_text(text)
    refused(run(command, path), "deep.json", "nests arrays or objects deeper than 100 levels")


def test_deeply_nested_yaml_is_one_line(account: Path, tmp_path: Path):
    path = tmp_path / "deep.yaml"
    path.write_text("venue: generic\nsteps: " + "[" * 5000 + "]" * 5000 + "\n")
    refused(run("run", path), "deep.yaml", "nests")
    refused(run("stress", account, "--scenario", path), "deep.yaml", "nests")


LATIN_1 = '{"venue": "g\xe9n\xe9ric"}'.encode("latin-1")


@pytest.mark.parametrize("data", [LATIN_1, "{}".encode("utf-16")], ids=["latin-1", "utf-16"])
def test_a_file_that_is_not_utf8_is_one_line(tmp_path: Path, data: bytes):
    path = tmp_path / "account.json"
    path.write_bytes(data)
    refused(run("evaluate", path), "account.json", "UTF-")
    refused(run("evaluate", "-", stdin=data), "stdin", "UTF-")
    refused(run("venues", "import-ccxt", path, CCXT / "binanceusdm_tiers.json", "--name", "x"), "account.json", "UTF-")
    refused(run("venues", "import-ccxt", CCXT / "binanceusdm_markets.json", path, "--name", "x"), "UTF-")
    refused(run("run", path), "UTF-")
    refused(run("venues", "show", path), "UTF-")


def test_a_utf8_byte_order_mark_is_read(tmp_path: Path):
    path = tmp_path / "account.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(ACCOUNT).encode())
    assert run("evaluate", path, "--json").returncode == 0


def test_a_scenario_file_that_is_not_utf8_is_one_line(account: Path, tmp_path: Path):
    scenario = tmp_path / "crash.yaml"
    scenario.write_bytes("name: ca\xeftastrophe\nsteps: []\n".encode("latin-1"))
    refused(run("stress", account, "--scenario", scenario), "crash.yaml", "not UTF-8")


def test_a_key_given_twice_is_refused_naming_the_key(tmp_path: Path):
    path = tmp_path / "account.json"
    text = json.dumps(ACCOUNT)
    path.write_text(text.replace('"size": "2"', '"size": "2", "size": "20"'))
    refused(run("evaluate", path), "account.json", "'size' twice")
    markets = tmp_path / "markets.json"
    markets.write_text('[{"symbol": "BTC/USDT:USDT", "symbol": "ETH/USDT:USDT"}]')
    refused(run("venues", "import-ccxt", markets, CCXT / "binanceusdm_tiers.json", "--name", "x"), "'symbol' twice")


def test_import_ccxt_output_to_a_folder_is_refused_before_reading(tmp_path: Path):
    done = run("venues", "import-ccxt", tmp_path / "absent.json", tmp_path / "absent.json", "--name", "x",
               "--output", tmp_path)  # fmt: skip
    refused(done, "--output", "is a folder")


def test_guard_refuses_a_window_longer_than_the_history_and_odds_outside_0_1(account: Path):
    refused(run("guard", account, "--window", "9999w"), "window", "longer than the shipped history")
    refused(run("guard", account, "--reserve-probability", "1.5"), "--reserve-probability")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--vol", "BTC=0.8"], "vol"),
        (["--corr", "BTC:ETH=0.5"], "corr"),
        (["--model", "student-t", "--drift", "0.1"], "drift"),
    ],
)
def test_a_model_option_the_model_would_ignore_is_refused(account: Path, args: list[str], field: str):
    """The bootstrap draws real returns and the student-t has no drift: the option would silently do nothing."""
    refused(run("montecarlo", account, "--paths", "10", *args), f"{field}: does not apply to the")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"leverage": "1000"}, "positions[0].leverage: 1000 is above BTC-PERP's maximum of"),
        ({"mmr": "2"}, "positions[0].mmr: is a rate below 1"),
    ],
)
def test_a_position_beyond_what_the_venue_allows_is_refused(tmp_path: Path, change: dict[str, str], expected: str):
    """Leverage above the instrument's highest was evaluated at the venue's cap without a word, and
    a maintenance rate of 200 % gave a liquidation price on the wrong side of the mark."""
    document = json.loads(json.dumps(ACCOUNT))
    document["positions"][0].update(change)
    path = tmp_path / "account.json"
    path.write_text(json.dumps(document))
    refused(run("evaluate", path), expected)


def test_with_several_files_the_error_names_the_file(tmp_path: Path, account: Path):
    """`evaluate good.json bad.json` named only the field, not which of the files held it."""
    bad = tmp_path / "bad.json"
    document = json.loads(json.dumps(ACCOUNT))
    document["positions"][0]["size"] = "-1"
    bad.write_text(json.dumps(document))
    refused(run("evaluate", account, bad), f"{bad}: positions[0].size")


def test_a_vol_for_an_asset_the_account_does_not_hold_is_refused(account: Path):
    """`--vol FOO=0.5` with the Gaussian model ran without it, unsaid."""
    refused(run("montecarlo", account, "--model", "gaussian", "--vol", "FOO=0.5", "--paths", "10"), "vol.FOO")
