"""Package data: the documented default maintenance-margin tier tables, ``binance_btc_tiers.json`` (linear
USDT-M BTCUSDT, notional in USD) and ``binance_btcusd_coinm_tiers.json`` (inverse COIN-M BTCUSD_PERP, notional in
BTC). Each file's ``_about`` names its source."""
