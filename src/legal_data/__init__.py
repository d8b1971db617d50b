"""legal_data: the data layer of a multi-tenant practice-management service for Japanese law firms.

Packages, one per concern:

- :mod:`legal_data.models` — the SQLAlchemy schema (typed declarative models).
- :mod:`legal_data.tenancy` — tenant context, tenant sessions, Row Level Security SQL.
- :mod:`legal_data.db` — engines, PostgreSQL provisioning, error translation, migrations runner.
- :mod:`legal_data.domain` — pure rules: 法人番号, 事件番号, invoice arithmetic.
- :mod:`legal_data.crypto` — AES-256-GCM field encryption, keys, blind indexes.
- :mod:`legal_data.testing` — the pytest plugin and factory-boy factories.
- :mod:`legal_data.cli` — the ``legal-data`` command.
"""

from legal_data.errors import LegalDataError

__version__ = "0.1.0"
__all__ = ["LegalDataError", "__version__"]
