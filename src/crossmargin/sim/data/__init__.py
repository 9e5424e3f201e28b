"""The backtester's shipped market data (Parquet files; sources and licences in NOTICE.md)."""
