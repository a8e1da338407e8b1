"""Client dialects: the APIs clients speak, translated to and from OpenAI chat completions."""
