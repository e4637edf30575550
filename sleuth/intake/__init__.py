"""The webhook intake: Datadog posts alerts here; each becomes (or joins) a durable investigation."""
