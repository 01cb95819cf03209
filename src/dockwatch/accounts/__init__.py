"""Accounts (12-digit ids, names) and their access keys: the identities SigV4 requests sign as.

`service.AccountService` creates and lists them; secrets are sealed by an injected `Sealer`
(the composition root passes the data folder's secret box), never stored in plain.
"""
