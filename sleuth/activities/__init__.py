"""Every side effect: Datadog queries, model calls, publishing, evaluation submit."""
