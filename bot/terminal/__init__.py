"""The terminal interface: the ``regula`` command line and its plain-text rendering."""
