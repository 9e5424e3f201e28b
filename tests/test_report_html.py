"""The HTML report opens in Debian's headless Chromium with no console error, reads as a trader needs it,
and its screenshots are saved for a person to look at.

Chromium and its driver come from Debian (`chromium`, `chromium-driver`); `.ci/run` installs
them, so CI always runs this. A machine without them skips it, saying why. Each page's full
screenshot goes to ``$CROSSMARGIN_SCREENSHOTS`` (default: ``crossmargin-screenshots`` in the
temporary directory), and its path is printed (``pytest -rP`` shows it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossmargin.cli.main import app

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="Debian's chromium and chromium-driver are needed")
SCREENSHOTS = Path(os.environ.get("CROSSMARGIN_SCREENSHOTS", Path(tempfile.gettempdir()) / "crossmargin-screenshots"))


def position(symbol: str, side: str, size: str, entry: str, mark: str) -> dict[str, str]:
    return {"symbol": symbol, "side": side, "size": size, "entry_price": entry, "mark_price": mark, "leverage": "20"}


ACCOUNT = {
    "venue": "generic",
    "balances": {"USD": "30000"},
    "positions": [
        position("BTC-PERP", "long", "2", "50000", "51000"),
        position("ETH-PERP", "long", "20", "3000", "2950"),
        position("SOL-PERP", "short", "100", "150", "152"),
    ],
}
# Hedged: the book barely moves with every mark at once, so the joint-move stop of the short lies far
# beyond its own liquidation price (the long's mark held fixed): the venue liquidates it first.
HEDGED = {
    "venue": "generic",
    "balances": {"USD": "3000"},
    "positions": [
        position("BTC-PERP", "long", "1", "50000", "50000"),
        position("ETH-PERP", "short", "20", "2500", "2500"),
    ],
}


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1200,2400"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def open_page(browser, page: Path, name: str) -> Path:
    """Open ``page``, check it drew without a console error, save its full-page screenshot."""
    text = page.read_text(encoding="utf-8")
    assert "<script" in text and 'src="http' not in text  # plotly is inlined: the file stands alone
    browser.set_window_size(1200, 2400)
    browser.get(page.as_uri())
    assert browser.execute_script("return document.querySelectorAll('.js-plotly-plot .main-svg').length") >= 1
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []
    browser.set_window_size(1200, 600)  # the page's own height, not the window's, for the full screenshot
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1200, height + 120)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{name}.png"
    browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 20_000  # a page with charts, not a blank one
    return shot


def page_text(browser) -> str:
    return browser.execute_script("return document.body.innerText")


def layout(browser, index: int) -> dict:
    return browser.execute_script(f"const c = document.getElementById('chart-{index}'); return [c.layout, c.data]")


COMMANDS = {
    "stress": ["--incident", "march-2020", "--uniform", "-0.2"],
    "montecarlo": ["--paths", "2000", "--horizon", "7d"],
    "guard": [],
    "regime": [],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_report_opens_with_the_account_and_draws_its_chart(tmp_path: Path, browser, command: str):
    account = tmp_path / "account.json"
    account.write_text(json.dumps(ACCOUNT))
    report = tmp_path / f"{command}.html"
    result = CliRunner().invoke(app, [command, str(account), *COMMANDS[command], "--html", str(report), "--json"])
    assert result.exit_code == 0, result.output
    open_page(browser, report, command)
    text = page_text(browser)
    assert "Venue generic, rulebook as of 2026-11-24. Made " in text and " UTC by crossmargin " in text
    for figure in ("BTC-PERP", "SOL-PERP", "30,800.00 USD", "15.48", "-20.03 %", "36,449.5 USD", "100 SOL"):
        assert figure in text, figure  # positions, equity, health, liquidation move and price, with units


def test_the_combined_report_reads_as_a_trader_needs_it(tmp_path: Path, browser):
    account = tmp_path / "account.json"
    account.write_text(json.dumps(ACCOUNT))
    report = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "crossmargin", "report", str(account), "--html", str(report), "--paths", "2000"],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "report: stress: 11/11 scenarios" in done.stderr and "report: Monte Carlo: 2,000/2,000 paths" in done.stderr
    open_page(browser, report, "report")
    assert browser.execute_script("return document.querySelectorAll('.js-plotly-plot').length") == 4
    titles = browser.execute_script("return [...document.querySelectorAll('h2')].map(h => h.textContent)")
    assert [t.split(":")[0] for t in titles] == ["Stress through the engine", "Monte Carlo", "Guards", "Regime"]
    stress, stress_traces = layout(browser, 0)
    assert "hours" in stress["xaxis"]["title"]["text"]  # time, not steps
    colours = [trace["line"]["color"] for trace in stress_traces]
    assert len(colours) == 11 and len(set(colours)) == len(colours)  # every scenario its own colour
    assert "days" in layout(browser, 1)[0]["xaxis"]["title"]["text"]
    assert "date" in layout(browser, 3)[0]["xaxis"]["title"]["text"]
    text = page_text(browser)
    for figure in ("equity before (USD)", "bad debt (USD)", "liquidation probability\t9.55 %", "30,800.00 USD",
                   "(percentage points)", "lowest health on the worst 5 % of paths"):  # fmt: skip
        assert figure in text, figure
    tables = browser.execute_script("return [...document.querySelectorAll('td')].map(td => td.textContent)")
    assert not [cell for cell in tables if re.search(r"\d\.\d{7,}", cell)]  # no raw floats such as 0.0065719004
    assert "Warnings" not in text  # every stop of this book fires before its liquidation


def test_a_stop_beyond_its_liquidation_price_is_a_warning(tmp_path: Path, browser):
    account = tmp_path / "hedged.json"
    account.write_text(json.dumps(HEDGED))
    report = tmp_path / "guard.html"
    result = CliRunner().invoke(app, ["guard", str(account), "--html", str(report), "--json"])
    assert result.exit_code == 0, result.output
    open_page(browser, report, "guard-hedged")
    warnings = browser.execute_script("return document.querySelector('.warnings').innerText")
    assert "ETH-PERP (short): the stop at 5,769.23 USD lies beyond the liquidation price 2,599 USD" in warnings
    flagged = browser.execute_script("return [...document.querySelectorAll('tr.flag')].map(r => r.innerText)")
    assert len(flagged) == 1 and "stop lies beyond liquidation" in flagged[0]
