"""The JSON API under /api/v1/: ECR/Inspector field names over the same services."""
