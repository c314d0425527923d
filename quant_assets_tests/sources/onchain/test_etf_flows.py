"""The ETF flow table importer: rows as published, absent days, and tables that cannot be trusted."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from quant_assets.raw.parsers import ParseContext, parse_etf_flows
from quant_assets.sources.base import DataUnavailableError, Payload, Request, SourceError
from quant_assets.sources.etf_flows import EtfFlowImporter

BTC_HEADER = "Date,IBIT,FBTC,GBTC,Total"
BTC_ROW = '24 Dec 2025,"1,386.0",(12.5),-,"1,373.5"'
BTC_TABLE = f"""{BTC_HEADER}
23 Dec 2025,111.7,227.0,(95.1),243.6
{BTC_ROW}
26 Dec 2025,-,-,-,0.0
29 Dec 2025,(3.2),0.0,(1.8),(5.0)

Total,"1,494.5",214.5,(96.9),"1,612.1"
Average,373.6,53.6,(32.3),403.0
"""
ETH_TABLE = """Date,ETHA,FETH,ETHE,Total
24 Dec 2025,50.0,(10.0),-,40.0
29 Dec 2025,1.0,2.0,3.0,6.0
"""
CHRISTMAS, SATURDAY, LAST, AFTER_LAST = date(2025, 12, 25), date(2025, 12, 27), date(2025, 12, 29), date(
    2025, 12, 30)


def write(folder: Path, name: str, text: str, newline: str = "\n", encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_text(text, newline=newline, encoding=encoding)
    return path


@pytest.fixture
def tables(tmp_path: Path) -> Path:
    write(tmp_path, "btc-etf-flow.csv", BTC_TABLE)
    write(tmp_path, "eth-etf-flow.csv", ETH_TABLE)
    return tmp_path


def parse(payload: Payload) -> pd.DataFrame:
    return parse_etf_flows(payload.bodies, ParseContext("etf_flows", "ALL", payload.request, 0))


def test_a_day_is_the_header_and_its_row_exactly_as_in_the_file(tables):
    [payload] = EtfFlowImporter(tables).payloads("BTC", date(2025, 12, 24))
    assert payload.bodies == (f"{BTC_HEADER}\n{BTC_ROW}\n",)
    assert payload.request == Request.of("farside/btc-etf-flow", day="2025-12-24", file="btc-etf-flow.csv")
    flows = parse(payload).set_index("fund")["net_flow_usd"]
    assert flows["IBIT"] == 1_386_000_000.0  # quoted thousands, US$ millions → dollars
    assert flows["FBTC"] == -12_500_000.0  # parentheses are outflows
    assert math.isnan(flows["GBTC"])  # "-" is no flow, not zero


def test_all_key_gives_one_payload_per_asset(tables):
    payloads = EtfFlowImporter(tables).payloads("ALL", date(2025, 12, 24))
    assert [p.request.endpoint for p in payloads] == ["farside/btc-etf-flow", "farside/eth-etf-flow"]
    frame = pd.concat([parse(p) for p in payloads])
    assert frame.groupby("asset")["net_flow_usd"].sum().to_dict() == {"BTC": 1_373_500_000.0,
                                                                      "ETH": 40_000_000.0}


@pytest.mark.parametrize("day", [CHRISTMAS, SATURDAY, date(2026, 1, 3), date(2024, 1, 10)],
                         ids=["holiday", "weekend", "weekend-after-the-table", "before-the-launch"])
def test_non_trading_days_are_the_header_alone(tables, day):
    [payload] = EtfFlowImporter(tables).payloads("BTC", day)
    assert payload.bodies == (f"{BTC_HEADER}\n",)
    assert parse(payload).empty


def test_a_weekday_after_the_last_row_is_unavailable(tables):
    importer = EtfFlowImporter(tables)
    assert parse(importer.payloads("BTC", LAST)[0])["net_flow_usd"].sum() == -5_000_000.0
    with pytest.raises(DataUnavailableError, match=r"btc-etf-flow.csv: the table ends at 2025-12-29; "
                                                   r"2025-12-30 \(Tuesday\) is not in it yet"):
        importer.payloads("BTC", AFTER_LAST)


def test_a_weekday_after_the_launch_but_before_the_first_row_is_unavailable(tables):
    with pytest.raises(DataUnavailableError, match=r"the table starts at 2025-12-24; 2025-06-02 \(Monday\)"):
        EtfFlowImporter(tables).payloads("ETH", date(2025, 6, 2))


def test_a_total_that_disagrees_fails_that_day_naming_file_and_line(tmp_path):
    write(tmp_path, "btc-etf-flow.csv", BTC_TABLE.replace("(1.8),(5.0)", "(1.8),(9.0)"))
    importer = EtfFlowImporter(tmp_path)
    assert importer.payloads("BTC", date(2025, 12, 24))  # other days are still served
    with pytest.raises(SourceError, match=r"btc-etf-flow.csv line 5 \(2025-12-29\): .*field 'Total': "
                                          r"row 1: total -9.0 disagrees with the sum of funds -5.0"):
        importer.payloads("BTC", LAST)


@pytest.mark.parametrize(("text", "message"), [
    ("Day,IBIT,Total\n24 Dec 2025,1.0,1.0\n", r"line 1 \(header\): .*expected 'Date,<funds>,Total'"),
    ("Date,IBIT,Flows\n24 Dec 2025,1.0,1.0\n", r"line 1 \(header\): .*expected 'Date,<funds>,Total'"),
    (f"{BTC_HEADER}\n2025-12-24,1,1,1,3\n", r"line 2: '2025-12-24' is neither a date like '11 Jan 2024'"),
    (f"{BTC_HEADER}\n{BTC_ROW}\n{BTC_ROW}\n", r"2025-12-24 is listed twice \(lines 2 and 3\)"),
    (f"{BTC_HEADER}\nTotal,1,1,1,3\n", "no dated rows under the header"),
    ("", "the file is empty"),
])
def test_malformed_tables_are_refused_when_read(tmp_path, text, message):
    write(tmp_path, "btc-etf-flow.csv", text)
    with pytest.raises(SourceError, match=message):
        EtfFlowImporter(tmp_path).payloads("BTC", date(2025, 12, 24))


def test_a_missing_table_or_folder_says_what_is_expected(tmp_path):
    write(tmp_path, "btc-etf-flow.csv", BTC_TABLE)
    with pytest.raises(SourceError,
                       match=r"no ETH table in .* \(expected a file named like eth-etf-flow\.csv\)"):
        EtfFlowImporter(tmp_path).payloads("ALL", date(2025, 12, 24))
    with pytest.raises(SourceError, match=r"no folder .*nowhere.*QUANT_ETF_DIR"):
        EtfFlowImporter(tmp_path / "nowhere").payloads("BTC", date(2025, 12, 24))
    with pytest.raises(DataUnavailableError, match="no key 'SOL'"):
        EtfFlowImporter(tmp_path).payloads("SOL", date(2025, 12, 24))


def test_excel_exports_with_bom_and_crlf_are_read(tmp_path):
    write(tmp_path, "btc-etf-flow.csv", BTC_TABLE, newline="\r\n", encoding="utf-8-sig")
    [payload] = EtfFlowImporter(tmp_path).payloads("BTC", date(2025, 12, 24))
    assert payload.bodies == (f"{BTC_HEADER}\n{BTC_ROW}\n",)


def test_several_files_of_an_asset_are_one_table_if_they_agree(tmp_path):
    old = write(tmp_path, "btc-2025a.csv", f"{BTC_HEADER}\n23 Dec 2025,111.7,227.0,(95.1),243.6\n{BTC_ROW}\n")
    new = write(tmp_path, "btc-2025b.csv", f"{BTC_HEADER}\n{BTC_ROW}\n29 Dec 2025,(3.2),0.0,(1.8),(5.0)\n")
    importer = EtfFlowImporter(tmp_path, files={"BTC": [old, new]})
    assert importer.payloads("BTC", date(2025, 12, 23))[0].request.param("file") == "btc-2025a.csv"
    assert importer.payloads("BTC", LAST)[0].request.param("file") == "btc-2025b.csv"
    with pytest.raises(DataUnavailableError, match=r"btc-2025b\.csv: the table ends at 2025-12-29"):
        importer.payloads("BTC", AFTER_LAST)

    write(tmp_path, "btc-2025b.csv", f"{BTC_HEADER}\n{BTC_ROW.replace('(12.5)', '(12.6)')}\n")
    with pytest.raises(SourceError, match=r"2025-12-24 differs between btc-2025a\.csv line 3 and "
                                          r"btc-2025b\.csv line 2"):
        importer.payloads("BTC", LAST)


def test_from_env_reads_the_folder_variable(tables):
    importer = EtfFlowImporter.from_env({"QUANT_ETF_DIR": str(tables)})
    assert importer.directory == tables
    assert EtfFlowImporter.from_env({}).directory == Path("data/etf")
