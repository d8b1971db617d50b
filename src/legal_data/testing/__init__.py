"""Test support for legal_data and for the services that use it.

- :mod:`legal_data.testing.plugin` — the pytest plugin (registered as ``pytest11``):
  a migrated throwaway database per run, an app login role, clean state per test;
- :mod:`legal_data.testing.factories` — factory-boy factories for the models;
- :mod:`legal_data.testing.harness` — the same machinery without pytest.
"""
