"""Google's Gemini API as a client dialect: bodies, streams, errors and token estimates."""
