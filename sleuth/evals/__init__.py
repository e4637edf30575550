"""Evaluations: online scores for each investigation, the offline suite, living cases."""
