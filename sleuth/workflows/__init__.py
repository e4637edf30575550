"""Deterministic orchestration only: the investigation story, signals, updates and queries."""

from sleuth.workflows.investigate import InvestigateAlert

__all__ = ["InvestigateAlert"]
