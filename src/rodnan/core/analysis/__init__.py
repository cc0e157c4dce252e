"""Statistics on analysis datasets: Kaplan-Meier and log-rank (survival), Cox models (cox), mixed models and
paired tests for change over time (longitudinal), responder rates and adverse-event tables (summaries).

Each function takes plain arrays or pandas DataFrames and returns a frozen ``*Result``; lifelines,
statsmodels and scipy do the arithmetic. Methods, formulas and the references each was validated against
are in docs/statistics.md.
"""

# The data the analysis reads (data: TrialData, read_trial_dir, from_frames) and the ADaM-like analysis datasets
# derived from it (datasets: derive_subject_level, derive_time_to_event, derive_parameter_visits, derive_responses).
