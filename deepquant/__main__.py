"""``python -m deepquant`` runs the ``deepquant`` command group."""

from deepquant.cli import main

main()
