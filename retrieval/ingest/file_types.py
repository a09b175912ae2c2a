"""The file types the loaders read, by suffix: the one list of what can be ingested.

``regula ingest`` picks these up in a directory (``ingest.extensions`` defaults to them) and the
bot accepts them as uploads. The suffix only chooses between kinds the bytes cannot tell apart
(plain text, Markdown, HTML); a PDF, a Word or an OpenDocument file, or an image (a scanned page,
read through OCR) is recognised by its bytes whatever its name.
Kept free of the readers' imports so the config schema can use it cheaply.
"""

from __future__ import annotations

KIND_BY_SUFFIX = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".doc": "doc",
    ".odt": "odt",
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".tif": "image",
    ".tiff": "image",
}
SUPPORTED_SUFFIXES = tuple(KIND_BY_SUFFIX)
