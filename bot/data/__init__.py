"""Package data: the documented default maintenance-margin tier table (``binance_btc_tiers.json``)."""
