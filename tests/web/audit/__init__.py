"""Tests of rodnan.web.audit."""
