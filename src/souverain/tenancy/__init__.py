"""Who is calling: tenants, API keys, roles, clearances, and their request and token limits."""
