"""``python -m legal_data.search``: the ``legal-data search`` commands on their own."""

from legal_data.cli.search import search

if __name__ == "__main__":
    search(prog_name="python -m legal_data.search")
