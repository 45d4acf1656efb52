"""``python -m shared`` runs the ``deepquant`` command group."""

from shared.cli import main

main()
