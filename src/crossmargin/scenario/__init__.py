"""Scenario scripts: what-ifs stated as a venue and a list of steps, run through the real engine.

An application of the engine, beside the risk lab: a script is how a user states a what-if
without writing Python, and how the engine's rules are pinned, one file per rule
(``scenarios/``); see ``docs/scenarios.md``.
"""

from crossmargin.scenario.runner import Executor, StepReport, run_scenario
from crossmargin.scenario.script import Scenario, Step, load_scenario, parse_scenario

__all__ = ["Executor", "Scenario", "Step", "StepReport", "load_scenario", "parse_scenario", "run_scenario"]
