"""Model backends behind one Protocol: remote OpenAI-compatible servers and in-process engines."""
