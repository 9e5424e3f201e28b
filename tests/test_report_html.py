"""The HTML report opens in Debian's headless Chromium with no console error, and its charts draw.

Chromium and its driver come from Debian (`chromium`, `chromium-driver`); `.ci/run` installs
them, so CI always runs this. A machine without them skips it, saying why.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossmargin.cli.main import app

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="Debian's chromium and chromium-driver are needed")

ACCOUNT = {
    "venue": "generic",
    "balances": {"USD": "30000"},
    "positions": [
        {"symbol": symbol, "side": side, "size": size, "entry_price": entry, "mark_price": mark, "leverage": "20"}
        for symbol, side, size, entry, mark in [
            ("BTC-PERP", "long", "2", "50000", "51000"),
            ("ETH-PERP", "long", "20", "3000", "2950"),
            ("SOL-PERP", "short", "100", "150", "152"),
        ]
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


COMMANDS = {
    "stress": ["--incident", "march-2020", "--uniform", "-0.2"],
    "montecarlo": ["--paths", "2000", "--horizon", "7d"],
    "guard": [],
    "regime": [],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_report_opens_without_console_errors_and_draws_its_chart(tmp_path: Path, browser, command: str):
    account = tmp_path / "account.json"
    account.write_text(json.dumps(ACCOUNT))
    report = tmp_path / f"{command}.html"
    result = CliRunner().invoke(app, [command, str(account), *COMMANDS[command], "--html", str(report), "--json"])
    assert result.exit_code == 0, result.output
    text = report.read_text(encoding="utf-8")
    inlined = "<script" in text and 'src="http' not in text
    assert inlined  # plotly is inlined: the file stands alone, with no network
    browser.get(report.as_uri())
    drawn = browser.execute_script("return document.querySelectorAll('.js-plotly-plot .main-svg').length")
    assert drawn >= 1
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    shot = tmp_path / f"{command}.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000  # a page with charts, not a blank one


def test_the_combined_report_holds_all_four_charts(tmp_path: Path, browser):
    account = tmp_path / "account.json"
    account.write_text(json.dumps(ACCOUNT))
    report = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", str(account), "--html", str(report), "--paths", "2000"])
    assert result.exit_code == 0, result.output
    browser.get(report.as_uri())
    assert browser.execute_script("return document.querySelectorAll('.js-plotly-plot').length") == 4
    titles = browser.execute_script("return [...document.querySelectorAll('h2')].map(h => h.textContent)")
    assert [t.split(":")[0] for t in titles] == ["Stress through the engine", "Monte Carlo", "Guards", "Regime"]
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    shot = tmp_path / "report.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000
