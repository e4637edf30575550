"""Sleuth: a durable background SRE investigation agent."""

__version__ = "0.1.0"
