"""Tests of rodnan.web.accounts."""
