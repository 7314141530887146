"""Operators: identities of their own (name, role, Argon2id-hashed credential), created with
the CLI, used by the operator API and the console; every action is audited (R-SEC-5, R-OPS-2)."""
