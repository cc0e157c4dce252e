"""Tests of rodnan.web.crfs."""
