"""Tests of the Django web application (on SQLite, and on PostgreSQL with RODNAN_TEST_DATABASE=postgresql)."""
