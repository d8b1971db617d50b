"""The Japanese relevance set, run against a pure-Python model of the database query.

The reference matcher does exactly what the PostgreSQL side will do:

1. ``search_norm = search_document(title, body)``, ``tsv = array_to_tsvector(index_lexemes(...))``;
2. prefilter ``tsv @@ CAST(parsed.tsquery AS tsquery)`` — 2-character lexemes exactly,
   1-character lexemes as prefixes (``:*``);
3. recheck ``search_norm LIKE p ESCAPE '\\'`` for every required pattern and
   ``NOT LIKE`` for every excluded one (LIKE emulated from the escaped pattern,
   so the escaping is exercised too).

The same JSON is meant to be run against PostgreSQL by the lead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from legal_data.search.normalize import NORMALIZER_VERSION, index_lexemes, search_document
from legal_data.search.query import ParsedQuery, parse_query

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "search_relevance.json"
SET: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class IndexedDoc:
    id: str
    search_norm: str
    lexemes: frozenset[str]


def like(value: str, pattern: str) -> bool:
    """PostgreSQL ``value LIKE pattern ESCAPE '\\'``."""
    regex: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            regex.append(re.escape(next(chars)))
        elif ch == "%":
            regex.append(".*")
        elif ch == "_":
            regex.append(".")
        else:
            regex.append(re.escape(ch))
    return re.fullmatch("".join(regex), value, flags=re.DOTALL) is not None


def prefilter(doc: IndexedDoc, parsed: ParsedQuery) -> bool:
    """``tsv @@ tsquery``: every lexeme present; 1-character lexemes as prefixes."""
    return all(
        (lex in doc.lexemes) if len(lex) > 1 else any(have.startswith(lex) for have in doc.lexemes)
        for lex in parsed.required_bigrams
    )


def recheck(doc: IndexedDoc, parsed: ParsedQuery) -> bool:
    return all(like(doc.search_norm, p) for p in parsed.like_patterns) and not any(
        like(doc.search_norm, p) for p in parsed.excluded_like_patterns
    )


def index(doc: dict[str, str]) -> IndexedDoc:
    norm = search_document(doc["title"], doc["body"])
    return IndexedDoc(doc["id"], norm, frozenset(index_lexemes(norm)))


DOCS = [index(d) for d in SET["documents"]]


def test_fixture_shape() -> None:
    assert SET["normalizer_version"] == NORMALIZER_VERSION
    ids = [d["id"] for d in SET["documents"]]
    assert len(ids) == len(set(ids)) >= 40
    assert len(SET["queries"]) >= 25
    lengths = {len(q["q"]) for q in SET["queries"]}
    assert {1, 2, 8} <= lengths
    for q in SET["queries"]:
        assert set(q["expected"]) <= set(ids), q["id"]


@pytest.mark.parametrize("case", SET["queries"], ids=[q["id"] for q in SET["queries"]])
def test_relevance(case: dict[str, Any]) -> None:
    parsed = parse_query(case["q"])
    candidates = [d for d in DOCS if prefilter(d, parsed)]
    hits = sorted(d.id for d in candidates if recheck(d, parsed))
    assert hits == sorted(case["expected"]), case.get("note", "")


@pytest.mark.parametrize("case", SET["queries"], ids=[q["id"] for q in SET["queries"]])
def test_prefilter_never_loses_a_recheck_match(case: dict[str, Any]) -> None:
    """The GIN prefilter must be a superset of the exact LIKE result on every document."""
    parsed = parse_query(case["q"])
    for doc in DOCS:
        if recheck(doc, parsed) and parsed.terms:
            assert prefilter(doc, parsed), doc.id


def test_like_emulation_honours_escapes() -> None:
    assert like("a%b", "%\\%%")
    assert not like("ab", "%\\%%")
    assert like("a_b", "a\\_b")
    assert not like("axb", "a\\_b")
    assert like("axb", "a_b")
    assert like("a\\b", "a\\\\b")
