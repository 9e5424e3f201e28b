"""Importers of raw venue responses: the account they build and the venue's figures reproduced.

Each golden test imports recorded response bodies from ``tests/fixtures/connect/`` (sources in
``tests/fixtures/connect/SOURCES.md``), evaluates the account with the same functions as
``crossmargin evaluate`` and checks our figures against the ones the venue reported.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from crossmargin.connect import import_account
from crossmargin.margin import evaluate_account, evaluation_to_json, parse_account
from crossmargin.units import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "connect"
RAW_CCXT = Path(__file__).parent / "fixtures" / "ccxt" / "raw"
VENUES = Path(__file__).parent / "fixtures" / "venues"


def _evaluate(document: dict) -> dict:
    return evaluation_to_json(evaluate_account(parse_account(json.loads(json.dumps(document)))))


def _figure(block: dict, name: str) -> dict:
    assert name in block["reported"], f"{name} not compared"
    return block["reported"][name]


def test_hyperliquid_documentation_account_is_reproduced():
    """Hyperliquid's API documentation example of ``clearinghouseState`` (an isolated ETH long,
    maxLeverage 50): liquidationPx 2866.26936529, margin 4.967826, cross value 13104.514502."""
    document = import_account("hyperliquid", [FIXTURES / "hyperliquid" / "clearinghouseState_isolated.json"])
    position = document["positions"][0]
    assert position == {
        "symbol": "ETH",
        "side": "long",
        "size": "0.0335",
        "entry_price": "2986.3",
        "mark_price": "2985.9",
        "margin_mode": "isolated",
        "leverage": "20",
        "isolated_margin": "4.981226",
    }
    assert document["balances"] == {"USDC": "13104.514502"}
    result = _evaluate(document)
    assert result["reported"]["disagreements"] == []
    isolated = result["isolated"][0]
    assert isolated["mmr"] == "0.01"  # 1 / (2 x maxLeverage 50), not the rulebook's 25x
    liquidation = _figure(isolated, "liquidation_price")
    assert liquidation["venue"] == "2866.26936529" and liquidation["agrees"]
    assert abs(Decimal(liquidation["difference"])) <= Decimal("0.1")  # ETH's tick
    assert _figure(isolated, "margin_balance")["difference"] == "0"
    pool = result["pools"][0]
    assert _figure(pool, "max_withdrawable")["agrees"]
    assert result["overrides"][0]["symbol"] == "ETH" and result["overrides"][0]["key"] == "tiers"


def test_hyperliquid_max_leverage_is_what_makes_the_price_agree():
    """Without the response's maxLeverage (the rulebook's 25x: MMR 2 %) the same account's
    liquidation price misses the venue's: the override is load-bearing, not decoration."""
    document = import_account("hyperliquid", [FIXTURES / "hyperliquid" / "clearinghouseState_isolated.json"])
    del document["instruments"]
    result = _evaluate(document)
    assert not _figure(result["isolated"][0], "liquidation_price")["agrees"]
    assert [d["figure"] for d in result["reported"]["disagreements"]] == ["liquidation_price"]


def test_binance_isolated_hedge_legs_are_reproduced():
    """A real ``GET /fapi/v2/positionRisk`` body (DOGEUSDT hedge mode, isolated, 6x; the empty
    LONG leg is skipped): liquidationPrice 0.19059204, isolatedMargin 0.86034145."""
    document = import_account("binance-usdm", [FIXTURES / "binance-usdm" / "positionRisk_v2_isolated_hedge.json"])
    assert [(p["symbol"], p["position_side"], p["isolated_margin"]) for p in document["positions"]] == [
        ("DOGEUSDT", "short", "0.88304001")
    ]
    result = _evaluate(document)
    assert result["reported"]["disagreements"] == []
    isolated = result["isolated"][0]
    for name in ("notional", "unrealized_pnl", "margin_balance"):
        assert _figure(isolated, name)["difference"] == "0"
    liquidation = _figure(isolated, "liquidation_price")
    # the exact root is 0.19059204016...: Binance truncates to 8 decimals, we round to the tick
    assert abs(Decimal(liquidation["difference"])) < Decimal("0.00001")
    assert result["reported"]["sources"] == [
        {"endpoint": "GET /fapi/v2/positionRisk", "time": "2024-03-08T08:20:17.670Z"}
    ]


def test_binance_brackets_replace_the_rulebook_tiers(tmp_path):
    """The account's ``leverageBracket`` (recorded, ``fapi_v1_leverageBracket.json``) replaces the
    rulebook's ADAUSDT tiers; maintenance follows the bracket's MMR and cum."""
    row = {
        "symbol": "ADAUSDT",
        "positionAmt": "30000",
        "entryPrice": "0.385",
        "markPrice": "0.41047590",
        "unRealizedProfit": "764.27700000",
        "liquidationPrice": "0",
        "leverage": "20",
        "marginType": "cross",
        "isolatedMargin": "0.00000000",
        "positionSide": "BOTH",
        "notional": "12314.27700000",
        "isolatedWallet": "0",
        "updateTime": 1720736417660,
    }
    account = {
        "assets": [
            {
                "asset": "USDT",
                "walletBalance": "1000.00000000",
                "crossWalletBalance": "1000.00000000",
                "crossUnPnl": "764.27700000",
                "availableBalance": "1148.56315000",
                "maxWithdrawAmount": "1000.00000000",
                "marginBalance": "1764.27700000",
                "maintMargin": "61.57138500",
                "positionInitialMargin": "615.71385000",
            }
        ],
        "positions": [],
    }
    (tmp_path / "risk.json").write_text(json.dumps([row]))
    (tmp_path / "account.json").write_text(json.dumps(account))
    files = [tmp_path / "risk.json", tmp_path / "account.json", RAW_CCXT / "fapi_v1_leverageBracket.json"]
    document = import_account("binance-usdm", files)
    brackets = json.loads((RAW_CCXT / "fapi_v1_leverageBracket.json").read_text())
    ada = next(entry for entry in brackets if entry["symbol"] == "ADAUSDT")["brackets"]
    tiers = document["instruments"][0]["tiers"]
    assert document["instruments"][0]["symbol"] == "ADAUSDT"
    assert [t["mmr"] for t in tiers] == [b["maintMarginRatio"] for b in ada]
    result = _evaluate(document)
    position = result["pools"][0]["positions"][0]
    tier = next(b for b in ada if Decimal(b["notionalFloor"]) <= Decimal("12314.277") < Decimal(b["notionalCap"]))
    assert position["mmr"] == tier["maintMarginRatio"]


def test_binance_symbol_defined_by_its_brackets(tmp_path):
    """A symbol the rulebook lacks is defined from the brackets the response carries (BLURUSDT,
    a real positionRisk row; brackets with the 1.5 % first-tier rate its liquidation price
    implies), and its liquidation price then agrees with Binance's 0.54942259."""
    brackets = [
        {
            "symbol": "BLURUSDT",
            "brackets": [
                {
                    "bracket": 1,
                    "initialLeverage": 50,
                    "notionalCap": 5000,
                    "notionalFloor": 0,
                    "maintMarginRatio": 0.015,
                    "cum": 0.0,
                }
            ],
        }
    ]
    (tmp_path / "brackets.json").write_text(json.dumps(brackets))
    risk = FIXTURES / "bad" / "positionRisk_unknown_symbol.json"
    document = import_account("binance-usdm", [risk, tmp_path / "brackets.json"])
    assert document["instruments"][0]["settlement_asset"] == "USDT"
    result = _evaluate(document)
    assert result["overrides"] == [
        {"symbol": "BLURUSDT", "key": "instrument", "rulebook": None, "account": "defined by the account"}
    ]
    assert result["reported"]["disagreements"] == []


def test_dydx_subaccount_equity_and_free_collateral():
    """A subaccount in the indexer's documented shape (constructed: one BTC-USD long bought at
    50,000 out of 100,000 USDC): equity and free collateral (equity less 5 % initial margin)."""
    document = import_account("dydx", [FIXTURES / "dydx" / "subaccount.json"])
    assert document["balances"] == {"USDC": "100000.000000"}
    result = _evaluate(document)
    pool = result["pools"][0]
    assert _figure(pool, "margin_balance")["difference"] == "0"
    assert _figure(pool, "available_balance")["difference"] == "0"


#: Recorded dYdX subaccounts (tests/fixtures/venues/SOURCES.md, dydx) with the markets body
#: whose fractions they were margined at: BTC-USD and ETH-USD at IMF 2 % / MMF 1.2 %.
DYDX_ACCOUNTS = [
    ("v4_addresses.recorded-2025-07-31.json", "v4_perpetualMarkets.recorded-2025-07-29.json"),
    ("v4_addresses_subaccountNumber.recorded-2025-10-22.json", "v4_perpetualMarkets.recorded-2025-12-08.json"),
]


@pytest.mark.parametrize(("subaccount", "markets"), DYDX_ACCOUNTS, ids=["2025-07-31", "2025-10-22"])
def test_dydx_recorded_subaccount_equity_and_free_collateral(subaccount, markets):
    """Whole dYdX accounts: equity 25346.73993597 (a BTC short) and 161451.040416029 (a BTC
    short and an ETH long), free collateral 24207.8530595294 and 152508.28819133578 = equity
    less 2 % of each notional, to USDC's 6 decimals. The marks are the oracle prices the
    indexer valued each position at (entry + PnL / size, e.g. BTC 108086.86937), not the
    markets body's oraclePrice of another day; the fractions are the markets' (the rulebook
    of 2024-07-27 has 5 % / 3 %)."""
    document = import_account("dydx", [VENUES / "dydx" / subaccount, VENUES / "dydx" / markets])
    result = _evaluate(document)
    assert result["reported"]["disagreements"] == []
    pool = result["pools"][0]
    for name in ("margin_balance", "available_balance"):
        figure = _figure(pool, name)
        assert figure["agrees"] and abs(Decimal(figure["difference"])) < Decimal("0.000001")
    overridden = {(o["symbol"], o["key"]) for o in result["overrides"]}
    assert {(p["symbol"], "open_interest_imf") for p in document["positions"]} <= overridden
    assert all(Decimal(p["leverage"]) == 50 for p in document["positions"])


def test_dydx_marks_come_from_the_subaccount_not_the_markets_of_another_moment():
    """The 2025-10-22 subaccount with the markets of 2025-12-08: BTC's oraclePrice there is
    89919.2, the subaccount's own BTC price 108086.86937 (its unrealizedPnl over its size)."""
    files = [VENUES / "dydx" / name for name in DYDX_ACCOUNTS[1]]
    document = import_account("dydx", files)
    marks = {p["symbol"]: p["mark_price"] for p in document["positions"]}
    assert marks == {"ETH-USD": "3850.024845", "BTC-USD": "108086.86937"}


def test_dydx_fractions_of_the_response_are_what_makes_free_collateral_agree():
    """Without perpetualMarkets the rulebook's 5 % IMF gives 139094.16, not 152508.29."""
    document = import_account("dydx", [VENUES / "dydx" / DYDX_ACCOUNTS[1][0]])
    result = _evaluate(document)
    assert [d["figure"] for d in result["reported"]["disagreements"]] == ["available_balance"]
    assert _figure(result["pools"][0], "margin_balance")["agrees"]


def test_dydx_address_with_several_subaccounts_names_the_endpoint_for_one(tmp_path):
    body = json.loads((VENUES / "dydx" / DYDX_ACCOUNTS[0][0]).read_text())
    second = dict(body["subaccounts"][0], subaccountNumber=1)
    (tmp_path / "address.json").write_text(json.dumps({"subaccounts": [*body["subaccounts"], second]}))
    with pytest.raises(InputError, match=r"holds 2 subaccounts \(0, 1\).*subaccountNumber/\{n\}"):
        import_account("dydx", [tmp_path / "address.json"])


def test_binance_coinm_recorded_isolated_position_is_reproduced():
    """A recorded ``GET /dapi/v1/positionRisk`` row (BTCUSD_PERP, 2 contracts isolated): the
    liquidation price 25119.97445760, notional 0.00524892 BTC, PnL and isolated margin agree
    within Binance's 8 decimals (the exact root is 25119.974457609...; see
    test_venue_responses for why its last digit is not settled)."""
    row = VENUES / "binance-coinm" / "dapi_v1_positionRisk_row.recorded-BTCUSD_PERP-isolated.json"
    document = import_account("binance-coinm", [row])
    assert document["positions"][0]["isolated_margin"] == "0.00268058"
    result = _evaluate(document)
    assert result["reported"]["compared"] == 4
    assert result["reported"]["disagreements"] == []
    assert _figure(result["isolated"][0], "liquidation_price")["venue"] == "25119.97445760"


def test_bybit_documentation_example_names_what_the_rulebook_lacks():
    """Bybit's documented ``/v5/position/list`` example holds inverse BTCUSD, for which the
    rulebook publishes no risk-limit table and the response carries none: one clear line."""
    with pytest.raises(InputError, match=r"positions\[0\]\.mmr: is required: the rulebook publishes no tiers"):
        import_account("bybit", sorted((FIXTURES / "bybit").glob("*.json")))


def test_bybit_cross_positions_without_the_wallet_name_the_missing_response():
    """Bybit's documented testnet response of 2022-12-29 (a unified XRPUSDT cross long) alone:
    evaluated against an empty wallet it would show a liquidation at 0.3645 where Bybit shows
    none; the import asks for the wallet instead."""
    body = VENUES / "bybit" / "v5_position_list.doc-testnet-2022-12-29-XRPUSDT-unified.json"
    with pytest.raises(InputError, match=r"cross positions need the account's wallet: add the /v5/account/wallet"):
        import_account("bybit", [body])


def test_bybit_prices_it_does_not_show_are_not_compared(tmp_path):
    """A unified cross position prints ``"liqPrice": ""`` and ``"bustPrice": ""``: prices Bybit
    does not show, not ones that do not exist, so they are left out of ``reported``. The
    recorded 2023 testnet LTCUSDT row, put in a position list beside a wallet."""
    row = json.loads((VENUES / "bybit" / "v5_position_list_row.testnet-2023-11-04-LTCUSDT-unified.json").read_text())
    listing = {"retCode": 0, "result": {"category": "linear", "list": [row]}}
    (tmp_path / "positions.json").write_text(json.dumps(listing))
    document = import_account(
        "bybit", [tmp_path / "positions.json", FIXTURES / "bybit" / "wallet_balance_contract.json"]
    )
    (reported,) = document["reported"]["positions"]
    assert "liquidation_price" not in reported and "bankruptcy_price" not in reported
    assert reported["initial_margin"] == "7.03519017"


def test_bybit_classic_wallet_is_one_pool_per_coin():
    from crossmargin.connect.bybit import build, classify
    from crossmargin.connect.responses import Body, read_json_file
    from crossmargin.rules import load_rulebook

    path = FIXTURES / "bybit" / "wallet_balance_contract.json"
    body = Body(read_json_file(path), str(path))
    draft = build("bybit", [(classify(body), body)], load_rulebook("bybit"))
    assert draft.balances == {"BTC": Decimal("0.00139186")}
    assert draft.pools["BTC"]["maintenance_margin"] == Decimal("0.0000015")


def test_okx_cross_positions_without_the_balance_name_the_missing_response(tmp_path):
    """The recorded 2021 ETH-USD-210430 position, switched to cross on BTC-USDT-SWAP (a symbol
    the rulebook lists), without GET /api/v5/account/balance: one line asking for it."""
    body = json.loads(
        (VENUES / "okx" / "api_v5_account_positions.recorded-2021-04-27-ETH-USD-210430-isolated.json").read_text()
    )
    body["data"][0] |= {"instId": "BTC-USDT-SWAP", "instType": "SWAP", "mgnMode": "cross", "markPx": "2566.22"}
    (tmp_path / "positions.json").write_text(json.dumps(body))
    with pytest.raises(InputError, match=r"cross positions need the account's wallet: add the /api/v5/account/balance"):
        import_account("okx", [tmp_path / "positions.json"])


def test_okx_documentation_example_names_the_unknown_instrument():
    """OKX's documented positions example is an ETH-USD-SWAP the rulebook does not list."""
    with pytest.raises(InputError, match="unknown symbol 'ETH-USD-SWAP' for venue okx"):
        import_account("okx", [FIXTURES / "okx" / "positions_isolated_swap.json"])


def test_ccxt_hyperliquid_dumps_reproduce_the_venue():
    """ccxt's own parse of the documentation account (tools/ccxt_fixture_accounts.py): floats
    read as their shortest repr, figures compared with the venue's."""
    files = sorted((FIXTURES / "ccxt").glob("hyperliquid_*.json"))
    document = import_account("ccxt", files, exchange="hyperliquid")
    position = document["positions"][0]
    assert (position["size"], position["entry_price"], position["mark_price"]) == ("0.0335", "2986.3", "2985.9")
    assert position["isolated_margin"] == "4.981226"  # collateral 4.967826 less PnL -0.0134, in decimal
    result = _evaluate(document)
    assert result["reported"]["disagreements"] == []
    assert _figure(result["isolated"][0], "liquidation_price")["venue"] == "2866.26936529"


def test_ccxt_binance_positions_reproduce_the_venue():
    document = import_account("ccxt", [FIXTURES / "ccxt" / "binanceusdm_positions.json"], exchange="binanceusdm")
    assert document["positions"][0]["position_side"] == "short"
    result = _evaluate(document)
    assert result["reported"]["compared"] == 4
    assert result["reported"]["disagreements"] == []


def test_a_figure_the_venue_misreports_is_listed():
    """Change the venue's liquidation price by one cent: the comparison must flag it."""
    document = import_account("binance-usdm", [FIXTURES / "binance-usdm" / "positionRisk_v2_isolated_hedge.json"])
    document["reported"]["positions"][0]["liquidation_price"] = "0.20059204"
    result = _evaluate(document)
    assert [(d["symbol"], d["figure"], d["venue"]) for d in result["reported"]["disagreements"]] == [
        ("DOGEUSDT", "liquidation_price", "0.20059204")
    ]


def test_a_flat_hyperliquid_position_is_left_out(tmp_path):
    """Hyperliquid may list a closed position (``szi`` "0") in clearinghouseState; it holds
    nothing to margin, so the import leaves it out rather than dividing by its size."""
    body = json.loads((FIXTURES / "hyperliquid" / "clearinghouseState_isolated.json").read_text())
    flat = json.loads(json.dumps(body["assetPositions"][0]))
    flat["position"].update({"coin": "BTC", "szi": "0.0", "positionValue": "0.0", "unrealizedPnl": "0.0"})
    body["assetPositions"].append(flat)
    path = tmp_path / "state.json"
    path.write_text(json.dumps(body))
    account = import_account("hyperliquid", [path])
    assert [p["symbol"] for p in account["positions"]] == [p["position"]["coin"] for p in body["assetPositions"][:1]]
