"""Channels: one typed contract (:mod:`.contract`) and one adapter package per channel.

An adapter depends on the contract and on :mod:`paygate.kit` only, never on services, the
API, a sandbox or another channel.
"""
