"""The ``crossmargin`` command line."""
