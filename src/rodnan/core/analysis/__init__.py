"""Statistics on analysis datasets: Kaplan-Meier and log-rank (survival), Cox models (cox), mixed models and
paired tests for change over time (longitudinal), responder rates and adverse-event tables (summaries).

Each function takes plain arrays or pandas DataFrames and returns a frozen ``*Result``; lifelines,
statsmodels and scipy do the arithmetic. Methods, formulas and the references each was validated against
are in docs/statistics.md.
"""

# The data the analysis reads is rodnan.core.trialdata (TrialData, read_trial_dir, from_frames), below both the
# endpoints and the analysis. The ADaM-like analysis datasets derived from it are in datasets (derive_subject_level,
# derive_time_to_event, derive_parameter_visits, derive_responses).
