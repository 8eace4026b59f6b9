"""Vigie's core: data contracts, configuration, the offline guard, model checks.

This package imports nothing from the rooms above it (retrieval, ingest, ui,
offline_bundle).
"""

__version__ = "0.1.0"
