"""Market data: the ccxt adapter, replay reader, synthetic market and data store. No model maths."""
