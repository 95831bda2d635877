"""Knowledge: documents parsed, chunked, embedded and indexed per tenant; hybrid search; cited answers."""
