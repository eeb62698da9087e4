"""The Slack adapter: gateway, tokens, Block Kit views, Bolt listeners."""
