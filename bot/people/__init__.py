"""People: trusts (workspaces), audiences, rosters, preferences and roles."""
