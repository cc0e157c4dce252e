"""Tests of rodnan.web.subjects."""
