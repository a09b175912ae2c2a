"""Regula's interfaces: the CLI and the Telegram bot."""
