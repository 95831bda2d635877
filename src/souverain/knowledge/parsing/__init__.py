"""Turning uploaded files into text with pages and headings, one module per format."""
