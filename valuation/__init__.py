"""Valuations, policies, the Polars coverage engine, stress scenarios and restructuring what-ifs (issue 4)."""
