"""The outside world in: venue and ccxt responses turned into account snapshots.

Above ``engine`` and ``store``, below the applications and the command line. Every importer
produces the account JSON that ``crossmargin evaluate`` reads, keeping the figures the venue
reported beside the inputs, so our own figures can be checked against the venue's.
"""

from crossmargin.connect.importer import VENUES, import_account

__all__ = ["VENUES", "import_account"]
