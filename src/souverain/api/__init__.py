"""HTTP only: routes, request and response schemas, error rendering."""
