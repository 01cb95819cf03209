"""SQL of the findings query surface: criteria, listings and aggregations over `tables`."""
