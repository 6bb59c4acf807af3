"""Fixtures for the storage contract live in tests/conftest.py, shared with e2e tests."""
