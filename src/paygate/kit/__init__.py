"""Shared primitives: money, errors, crypto, ids, masking, database plumbing."""
