"""The simulator: fake Slack and Teams servers, signed requests, simulated doctors, the demo."""
