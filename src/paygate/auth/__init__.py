"""App authentication: request signatures, replay protection, response signatures (R-SEC-1)."""
