"""``python -m gridcover`` runs the command line."""

from .cli import main

main()
