"""A real Dagster instance and DuckDB file with raw data for every module, shared by the
tests that materialize the ten modules (``test_materialized_modules.py``).

Those tests are one file and the suite runs with ``--dist loadfile``, so they share one xdist
worker and the raw data is materialized once. (``--dist loadgroup`` with ``xdist_group``
marks does not keep a group together with pytest 9 and pytest-xdist 3.8: its tests were
dealt to both workers.)
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dagster as dg
import pytest

from quant_assets.automation.backfill import QUIET_LOGS, range_tags
from quant_assets.automation.jobs import RAW_BARS_JOB, RAW_ETF_JOB, RAW_ONCHAIN_JOB, RAW_TICKS_JOB
from quant_assets.definitions import build_definitions
from quant_assets.settings import Settings, load_settings
from quant_assets.sources.onchain_catalog import ONCHAIN_ASSETS
from quant_assets_tests.modules.materialized import DAYS, FIRST, SYMBOLS, TICKS_FIRST


@dataclass(frozen=True)
class Materialized:
    settings: Settings
    defs: dg.Definitions
    instance: dg.DagsterInstance
    run: Callable[[str, str, str], None]


@pytest.fixture(scope="session")
def materialized(tmp_path_factory) -> Iterator[Materialized]:
    """Settings, definitions, instance and a ``run(job, first, last)`` over raw data from FIRST
    through the last day."""
    settings = load_settings({"QUANT_DATA_DIR": str(tmp_path_factory.mktemp("invariance")),
                              "QUANT_SYMBOLS": ",".join(SYMBOLS), "QUANT_START_DATE": FIRST.isoformat()})
    defs = build_definitions(settings)
    with dg.DagsterInstance.ephemeral() as instance:
        def run(job: str, first: str, last: str) -> None:
            result = defs.resolve_job_def(job).execute_in_process(
                instance=instance, tags=range_tags(first, last), run_config=QUIET_LOGS, raise_on_error=False)
            failures = [e.message for e in result.all_events if e.is_failure]
            assert result.success, f"{job} {first}..{last}: {failures[:2]}"

        last = DAYS[-1]
        for symbol in SYMBOLS:
            run(RAW_BARS_JOB, f"{FIRST}|{symbol}", f"{last}|{symbol}")
            run(RAW_TICKS_JOB, f"{TICKS_FIRST}|{symbol}", f"{last}|{symbol}")
        for asset in ONCHAIN_ASSETS:
            run(RAW_ONCHAIN_JOB, f"{asset}|{FIRST}", f"{asset}|{last}")
        run(RAW_ETF_JOB, FIRST.isoformat(), last.isoformat())
        yield Materialized(settings, defs, instance, run)
