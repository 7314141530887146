"""Payments: the services that own trade state (R-PAY-*, R-NTF-1/2)."""
