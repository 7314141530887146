"""Faithful local simulators of each channel (R-CH-6), one package per channel.

A sandbox implements its channel's wire rules on its own: it never imports
``paygate.channels`` (shared/style.md). The machinery every sandbox needs — faults,
notification delivery on the channel's retry schedule, the ``/_sandbox`` control API, the
clock, payer pages — is written once in :mod:`paygate.sandbox.harness`; each
``sandbox/<name>/`` keeps only its protocol, in the same skeleton of files
(``docs/sandbox/README.md``), and exposes a class that satisfies
:class:`paygate.sandbox.base.ChannelSandbox`. :mod:`paygate.sandbox.app` mounts them all
on one ASGI app at ``/<name>``.
"""
