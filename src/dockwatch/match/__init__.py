"""Matching an inventory against the vulnerability database, with the evidence of each match."""
