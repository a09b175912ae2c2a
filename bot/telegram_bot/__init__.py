"""The Telegram bot: application, handlers, HTML formatting and flow control."""
