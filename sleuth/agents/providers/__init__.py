"""Model providers: `offline` (no LLM), `openai:<model>`, `anthropic:<model>`."""
