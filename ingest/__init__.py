"""Ingestion: read source files (PDF, images), parse them into elements, cut them into chunks."""
