"""Discourse mechanisms: codebooks as data, layered tagging, aggregates (docs/analyses/discourse.md)."""
