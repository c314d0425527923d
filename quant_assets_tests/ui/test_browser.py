"""The Dagster UI as users see it, in a real headless Chromium.

A temporary instance on disk gets five days of quotes, depth and trades for one symbol and
the tick modules for the last day; ``dagster-webserver`` serves the project's definitions
from it on 127.0.0.1. Chromium (Debian's, installed by ``make test``) then opens the asset
graph, a score asset and its upstream lineage. Screenshots go to ``artifacts/ui/``.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from quant_assets.automation.backfill import QUIET_LOGS, range_tags
from quant_assets.automation.jobs import MODULES_TICKS_JOB, RAW_TICKS_JOB
from quant_assets.definitions import build_definitions
from quant_assets.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "ui"
CHROMIUM = "/usr/bin/chromium"
SYMBOL = "BTCUSDT"
LAST = datetime.now(UTC).date() - timedelta(days=1)
FIRST = LAST - timedelta(days=4)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def webserver(tmp_path_factory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("ui")
    env = {**os.environ, "QUANT_DATA_DIR": str(folder), "QUANT_SYMBOLS": SYMBOL,
           "QUANT_START_DATE": FIRST.isoformat(), "DAGSTER_HOME": str(folder / "dagster_home")}
    settings = load_settings(env)
    settings.dagster_home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", settings.dagster_home / "dagster.yaml")
    defs = build_definitions(settings)
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        for job, first in ((RAW_TICKS_JOB, FIRST), (MODULES_TICKS_JOB, LAST)):
            result = defs.resolve_job_def(job).execute_in_process(
                instance=instance, run_config=QUIET_LOGS, raise_on_error=False,
                tags=range_tags(f"{first}|{SYMBOL}", f"{LAST}|{SYMBOL}"))
            assert result.success, job
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-webserver"), "-m", "quant_assets.definitions",
         "-h", "127.0.0.1", "-p", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(folder / "webserver.log", "w"))  # noqa: SIM115
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, (folder / "webserver.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the webserver did not answer /server_info in 120 s"
            time.sleep(1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def page(webserver):
    from playwright.sync_api import TimeoutError as NoDialog
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "no Chromium: `make test` installs it (scripts/ensure-chromium.sh)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{webserver}/asset-groups")
        with contextlib.suppress(NoDialog):  # the first visit's "Join the Dagster community" dialog
            page.get_by_role("button", name="Skip").click(timeout=15_000)
        yield page
        browser.close()


def test_the_asset_graph_shows_the_module_groups(page, webserver):
    page.goto(f"{webserver}/asset-groups")
    for group in ("microalpha", "order_micros", "raw", "trend_moment"):
        page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
    page.get_by_text("fetching statuses").first.wait_for(state="detached", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "asset_graph.png"), full_page=True)


def test_a_score_asset_shows_its_latest_scores_and_contributions(page, webserver):
    page.goto(f"{webserver}/assets/scores/micro_alpha_score")
    preview = page.get_by_text("top contributions").first  # the "latest" metadata table
    preview.wait_for(timeout=60_000)
    preview.scroll_into_view_if_needed()
    text = page.inner_text("body")
    assert SYMBOL in text and "scores.micro_alpha_score" in text
    page.screenshot(path=str(ARTIFACTS / "score_asset.png"), full_page=True)


def test_the_lineage_goes_from_a_score_to_its_raw_inputs(page, webserver):
    page.goto(f"{webserver}/assets/scores/micro_alpha_score?view=lineage&lineageScope=upstream&lineageDepth=5")
    for node in ("agg_trades", "book_ticker", "kyle_lambda", "micro_alpha_score"):
        page.get_by_text(node, exact=True).first.wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "score_lineage.png"), full_page=True)
