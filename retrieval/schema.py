"""The collection schema, defined once for every store adapter."""

from __future__ import annotations

DENSE_VECTOR = "dense"
# BM25-style lexical weights (retrieval/lexical.py); the store applies IDF.
SPARSE_VECTOR = "sparse"

# Payload fields that filters use; each adapter creates an index on them.
KEYWORD_INDEXES = ("document_id", "sha256", "file_name", "language", "element_type", "caveats")
INTEGER_INDEXES = ("level", "page", "pending", "document_date")  # date as 19940312

# A chunk written but not yet published (its document is still being ingested, or its
# ingestion was interrupted) carries `pending: 1` and is invisible to every read (an integer, not a
# boolean: Qdrant Edge's Python binding matches `True` as the integer 1).
PENDING = "pending"
