"""The corpus keepers' web console: a thin server-rendered interface over ``retrieval``."""
