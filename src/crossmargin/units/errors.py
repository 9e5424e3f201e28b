"""The one error type for bad input: it always names the offending field."""

from __future__ import annotations


class InputError(ValueError):
    """Raised when a value from outside (a file, the command line, an API body) is unusable.

    The message is a single line that starts with the field's path, so the command line can
    print it as it is and a caller can tell which value to fix.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")

    def within(self, prefix: str) -> InputError:
        """Return the same error with its field nested under ``prefix`` (``positions[2].size``)."""
        joined = f"{prefix}.{self.field}" if not self.field.startswith("[") else prefix + self.field
        return InputError(joined, self.problem)
