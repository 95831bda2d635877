"""The request pipeline and the residency-aware router."""
