"""Inbound channel callbacks on the public listener (R-NTF-1, R-NTF-2, R-SEC-3): a channel's
asynchronous notifications (:mod:`.notifications`) and the payer's browser coming back
(:mod:`.returns`). Outgoing notifications to apps are another matter entirely."""
