"""Chat platform adapters: each renders the core's views and parses its events."""
