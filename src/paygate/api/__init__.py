"""The two listeners (R-SEC-2): :mod:`.internal` (the app-facing API, allow-listed sources
only) and :mod:`.public` (channel notify/return, nothing else)."""
