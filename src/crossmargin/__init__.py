"""crossmargin: exchange-accurate cross-margin figures for crypto derivatives venues."""

__version__ = "0.1.0"
