"""Accounts: who calls dockwatch, and the credentials that prove it."""
