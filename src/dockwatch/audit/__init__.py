"""The audit log: who changed what, from where and when, and whether it was done."""
