"""pytest-runs: record and replay OpenAI-style Assistants runs in pytest."""
