"""The account engine: the only code that changes state (commands -> events -> ledger)."""
