"""dockwatch: a self-hosted container registry with continuous vulnerability scanning."""

__version__ = "0.1.0"

__all__ = ["__version__"]
