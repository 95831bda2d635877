"""souverain: a sovereign gateway for large language models."""
