"""The backtester: strategies over history through the engine, in cross and isolated mode.

Every fill, funding payment and liquidation is the engine's own; float64 only screens bars and draws.
"""
