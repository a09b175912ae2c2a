"""Regula core: ingest, retrieval and cited answers; knows nothing of Telegram."""
