"""Sleuth observing itself: LLM Observability traces and evaluations, DogStatsD metrics.

Both are optional (off without Datadog settings) and harmless (they never fail an investigation).
"""
