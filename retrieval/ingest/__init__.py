"""Ingest: files -> documents -> chunks with locators, translations linked, written whole."""
