"""The collection schema, defined once for every store adapter."""

from __future__ import annotations

DENSE_VECTOR = "dense"
# Reserved for hybrid search (issue 4): declared now so the data format stays stable.
SPARSE_VECTOR = "sparse"

# Payload fields that filters use; each adapter creates an index on them.
KEYWORD_INDEXES = ("document_id", "sha256", "file_name", "language", "element_type", "caveats")
INTEGER_INDEXES = ("level", "page", "pending")

# A chunk written but not yet published (its document is still being ingested, or its
# ingestion was interrupted) carries `pending: 1` and is invisible to every read (an integer, not a
# boolean: Qdrant Edge's Python binding matches `True` as the integer 1).
PENDING = "pending"
