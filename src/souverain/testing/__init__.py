"""Test doubles that stand in for things outside souverain (remote model servers), as real servers."""
