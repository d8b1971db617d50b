"""Factories for a firm's search configuration: synonym pairs."""

from __future__ import annotations

import factory

from legal_data.models import SearchSynonym
from legal_data.testing.factories.base import TenantOwnedFactory


class SearchSynonymFactory(TenantOwnedFactory):
    """A normalized pair, ``term`` first in code-point order (原 U+539F < 申 U+7533).
    Application code uses :func:`legal_data.search.synonyms.add`, which normalizes."""

    class Meta:
        model = SearchSynonym

    term = factory.Sequence(lambda n: f"原告{n}")
    synonym = factory.Sequence(lambda n: f"申立人{n}")
    note = "テスト用の同義語"
