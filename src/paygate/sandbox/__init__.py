"""Faithful local simulators of each channel (R-CH-6), one package per channel.

A sandbox implements its channel's wire rules on its own: it never imports
``paygate.channels`` (shared/style.md). Each ``sandbox/<name>/`` exposes a class that
satisfies :class:`paygate.sandbox.base.ChannelSandbox`; :mod:`paygate.sandbox.app` mounts
them all on one ASGI app at ``/<name>``.
"""
