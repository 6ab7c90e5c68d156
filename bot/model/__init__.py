"""Pure numpy liquidation model: price formulas, position book → price grid, heatmap, clusters, backtest metrics.

Nothing in this package imports ccxt, SQLAlchemy, matplotlib or a chat library (a test enforces it).
"""
