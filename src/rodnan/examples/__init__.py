"""Example input files shipped with rodnan (synthetic; no real patient data)."""
