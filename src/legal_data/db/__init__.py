"""Database plumbing: engines, PostgreSQL provisioning, error translation, migrations.

- :mod:`legal_data.db.engine` builds engines with the library's safe defaults.
- :mod:`legal_data.db.provision` answers "give me a PostgreSQL" for tests and the demo.
- :mod:`legal_data.db.errors` turns PostgreSQL constraint errors into typed exceptions.
- :mod:`legal_data.db.migrate` runs Alembic programmatically and verifies revision checksums.
"""
