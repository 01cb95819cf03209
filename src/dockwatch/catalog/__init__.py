"""The cataloguer ("indexer"): image layers in, installed packages out."""
