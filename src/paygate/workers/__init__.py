"""Background work that runs beside the listeners (call-log writer, housekeeping)."""
