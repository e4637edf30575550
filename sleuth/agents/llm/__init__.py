"""LLM-driven roles: the offline investigator's roles with a model in the loop, and code deciding.

Each role takes a provider (None = offline only) and the offline role it extends, and falls back
to that offline role on any model error or when the step's token budget is spent.
"""

from sleuth.agents.llm.common import BudgetExhausted, ModelSession
from sleuth.agents.llm.concluder import LLMConcluder
from sleuth.agents.llm.planner import LLMPlanner
from sleuth.agents.llm.tester import LLMTester

__all__ = ["BudgetExhausted", "LLMConcluder", "LLMPlanner", "LLMTester", "ModelSession"]
