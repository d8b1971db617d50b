"""``python -m legal_data`` runs the ``legal-data`` command."""

from legal_data.cli import main

main()
