"""Outbound trace context: HTTP headers (`http`) and AWS service attributes (`aws`).

Both write headers produced by `header`, the one place trace headers are parsed and rendered.
"""
