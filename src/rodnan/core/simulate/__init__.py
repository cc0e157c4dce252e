"""Seeded synthetic trial data: candidates for screening, and a followed-up cohort."""
