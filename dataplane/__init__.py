"""Tollgate's data plane: the OpenAI-compatible /v1 API, metered and billed per request."""
