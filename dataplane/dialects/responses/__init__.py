"""OpenAI's Responses API as a client dialect: bodies and their event stream."""
