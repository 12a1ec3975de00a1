"""What a session is: the manifest (single source of truth), strategies, the plan, creation."""
