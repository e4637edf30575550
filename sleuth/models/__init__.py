"""Typed models that cross every boundary (webhook, workflow, activities, agents, report)."""
