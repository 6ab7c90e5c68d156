"""liqmap: a self-hosted Bitcoin liquidation-map bot."""

__version__ = "0.1.0"
