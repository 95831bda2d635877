"""Request and token limits per tenant and per key, in fixed windows (a minute, a day)."""
