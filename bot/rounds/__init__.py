"""Rounds: their life from slot to close, the answers they collect, and when they go out."""
