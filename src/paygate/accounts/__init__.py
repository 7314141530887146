"""Who may do what with which credentials: apps (the business systems calling paygate) and
channel accounts (merchant credentials at a channel), their provisioning and their sealed
secrets (R-CH-3, R-SEC-4)."""
