"""Protocol files shipped with rodnan (package data)."""
