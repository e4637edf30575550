"""The investigator: planning, hypothesis testing, evidence statistics, judging, concluding, providers."""
