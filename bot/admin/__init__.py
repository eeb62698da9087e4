"""Administration: what admins change, and the audit log that records it."""
