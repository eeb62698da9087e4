"""Insights: statistics, summaries, charts, exports and the results doctors see."""
