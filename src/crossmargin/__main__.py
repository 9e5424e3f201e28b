"""``python -m crossmargin`` runs the command line."""

from crossmargin.cli.main import main

main()
