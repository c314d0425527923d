"""On-chain metrics and ETF funds the platform ingests, with the vendor path of each.

Shared by the simulated market, the real clients and the parsers, so a metric has one
name everywhere.
"""

from __future__ import annotations

from datetime import date

#: On-chain metric names served per asset, with the Glassnode-style path of each.
ONCHAIN_METRIC_PATHS: dict[str, str] = {
    "price_usd": "/v1/metrics/market/price_usd_close",
    "market_cap_usd": "/v1/metrics/market/marketcap_usd",
    "realized_cap_usd": "/v1/metrics/market/marketcap_realized_usd",
    "mvrv": "/v1/metrics/market/mvrv",
    "supply": "/v1/metrics/supply/current",
    "sopr": "/v1/metrics/indicators/sopr",
    "nupl": "/v1/metrics/indicators/net_unrealized_profit_loss",
    "nrpl_usd": "/v1/metrics/indicators/net_realized_profit_loss",
    "exchange_inflow_usd": "/v1/metrics/transactions/transfers_volume_to_exchanges_sum",
    "exchange_outflow_usd": "/v1/metrics/transactions/transfers_volume_from_exchanges_sum",
    "exchange_netflow_usd": "/v1/metrics/transactions/transfers_volume_exchanges_net",
    "exchange_balance": "/v1/metrics/distribution/balance_exchanges",
    "exchange_net_position_change": "/v1/metrics/distribution/exchange_net_position_change",
    "exchange_whale_ratio": "/v1/metrics/transactions/exchange_whale_ratio",
}
STABLECOIN_METRICS = ("exchange_inflow_usd", "exchange_outflow_usd", "exchange_netflow_usd")
ONCHAIN_ASSETS: dict[str, tuple[str, ...]] = {
    "BTC": tuple(ONCHAIN_METRIC_PATHS),
    "ETH": tuple(ONCHAIN_METRIC_PATHS),
    "USDT": STABLECOIN_METRICS,
}

ETF_FUNDS: dict[str, tuple[str, ...]] = {
    "BTC": ("IBIT", "FBTC", "BITB", "ARKB", "BTCO", "EZBC", "BRRR", "HODL", "BTCW", "GBTC", "BTC"),
    "ETH": ("ETHA", "FETH", "ETHW", "CETH", "ETHV", "QETH", "EZET", "ETHE", "ETH"),
}

#: First trading day of the US spot ETFs of each asset.
ETF_LAUNCH: dict[str, date] = {"BTC": date(2024, 1, 11), "ETH": date(2024, 7, 23)}


def metric_for_path(path: str) -> str | None:
    """The metric name served at a vendor ``path``, or None when the path is unknown."""
    return _METRIC_BY_PATH.get(path)


_METRIC_BY_PATH = {path: metric for metric, path in ONCHAIN_METRIC_PATHS.items()}
