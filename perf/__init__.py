"""Benchmarks of legal_data. Speed is measured here, never asserted in tests."""
