"""The operators' console services (R-OPS-1, R-OPS-2)."""
