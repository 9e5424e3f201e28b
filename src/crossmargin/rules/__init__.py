"""Venue rulebooks as validated data: instruments, risk tiers and account conventions."""

from crossmargin.rules.registry import Rulebook, available_rulebooks, load_rulebook, parse_rulebook
from crossmargin.rules.schema import Conventions, Instrument, RulebookFile, Tier

__all__ = [
    "Conventions",
    "Instrument",
    "Rulebook",
    "RulebookFile",
    "Tier",
    "available_rulebooks",
    "load_rulebook",
    "parse_rulebook",
]
