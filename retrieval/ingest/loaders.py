"""File -> LoadedDocument: plain text that keeps its line structure, plus declared metadata.

The bytes decide the kind (a PDF starts with ``%PDF-``, a .docx is a zip holding
``word/document.xml``, an .odt one holding ``content.xml``, a legacy .doc is an OLE file); the
name only chooses between plain text, Markdown and HTML (``file_types.py``). Text is decoded
(BOMs, legacy 8-bit code pages), handed to its reader (``readers.py``, ``office.py``), tidied,
and its metadata cleaned (``front_matter.py``). Every failure is a LoaderError whose reason can
be shown to the user.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path, PurePath

from retrieval.config import IngestSettings
from retrieval.errors import LoaderError
from retrieval.ingest.file_types import KIND_BY_SUFFIX
from retrieval.ingest.front_matter import clean_metadata
from retrieval.ingest.readers import (
    BYTES_READERS,
    OCR_READERS,
    TEXT_READERS,
    check_zip,
    human_size,
    zip_members,
)
from retrieval.models import LoadedDocument

# Callers that pass no limit (tests, benchmarks) get the configured default, ingest.max_file_mb.
DEFAULT_MAX_BYTES = IngestSettings().max_file_bytes
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ODT_MIME = b"application/vnd.oasis.opendocument.text"
# PNG, JPEG, TIFF (both byte orders): a scanned page, read through OCR.
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Legacy 8-bit encodings tried in order when UTF-8 fails, each with letters it can produce but
# its own languages rarely use: seeing them means the bytes were meant for another code page.
_LEGACY_ENCODINGS = {"cp1252": "ŠšŽž", "cp1250": "ŔŕĹĺ", "latin-1": ""}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffd]")
_MOJIBAKE = re.compile(r"(?<=[^\W\d_])[¹²³¿¯¥£ªº¼½¾¦¨´¸¤§°±µ¶·¬®©«»ˇ˘˛˝˙](?=[^\W\d_])")


def load_document(
    path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, ocr_languages: Sequence[str] = ()
) -> LoadedDocument:
    """Read ``path`` (at most ``max_bytes``) and extract its text and metadata."""
    label = str(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError as e:
        raise LoaderError(label, "file not found") from e
    except OSError as e:
        raise LoaderError(label, f"cannot read file: {e.strerror or e}") from e
    return _load(data, label, path.name, max_bytes, size, ocr_languages)


def load_bytes(
    data: bytes,
    filename: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    ocr_languages: Sequence[str] = (),
) -> LoadedDocument:
    """Extract text and metadata from an uploaded file's bytes; ``filename`` gives the hint;
    scanned pages are read in ``ocr_languages`` (the ones Tesseract has)."""
    return _load(data, filename, filename, max_bytes, len(data), ocr_languages)


def sniff_kind(data: bytes, filename: str) -> str:
    """The kind of file: pdf, docx, html, markdown or text, decided by the bytes.

    Raises LoaderError when the bytes contradict the name (a .pdf without ``%PDF-``, a .docx
    that is not a zip) or are binary where text was expected.
    """
    return _sniff(data, filename, filename)[0]


def _load(
    data: bytes,
    label: str,
    filename: str,
    max_bytes: int,
    size: int,
    ocr_languages: Sequence[str] = (),
) -> LoadedDocument:
    if size > max_bytes or len(data) > max_bytes:
        found = human_size(max(size, len(data)))
        msg = f"file too large: {found} > limit {human_size(max_bytes)}"
        raise LoaderError(label, msg)
    if not data or data.isspace():
        raise LoaderError(label, "empty document")
    kind, decoded = _sniff(data, label, filename)
    if kind in OCR_READERS:
        text, meta = OCR_READERS[kind](data, label, ocr_languages)
    elif decoded is None:
        text, meta = BYTES_READERS[kind](data, label)
    else:
        text, meta = TEXT_READERS[kind](decoded[0], label)
        if decoded[1] is not None:  # not UTF-8
            meta["encoding"] = decoded[1]
    text = _tidy(text)
    if not text:
        raise LoaderError(label, "empty document")
    return LoadedDocument(text=text, metadata=clean_metadata(meta))


def _sniff(data: bytes, label: str, filename: str) -> tuple[str, tuple[str, str | None] | None]:
    named = KIND_BY_SUFFIX.get(PurePath(filename).suffix.lower())
    if data.startswith(b"%PDF-") or (named == "pdf" and b"%PDF-" in data[:1024]):
        return "pdf", None
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        names = {member.filename for member in zip_members(data, label)}
        if "word/document.xml" in names:
            return "docx", None
        if "content.xml" in names and _ODT_MIME in data[:200]:
            check_zip(data, label)
            return "odt", None
        raise LoaderError(label, "a zip archive but neither a Word .docx nor an OpenDocument .odt")
    if data.startswith(_OLE_MAGIC):
        return "doc", None
    if data.startswith(_IMAGE_MAGIC):
        return "image", None
    if named == "pdf":
        raise LoaderError(label, "not a PDF (the file does not start with %PDF-)")
    if named == "docx":
        raise LoaderError(label, "not a Word .docx (the file is not a zip archive)")
    text, encoding = _decode(data, label)
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    if named in ("html", "markdown"):
        kind = named
    elif text.lstrip()[:15].lower().startswith(("<!doctype html", "<html")):
        kind = "html"
    else:
        kind = "text"
    return kind, (text, encoding)


def _decode(data: bytes, label: str) -> tuple[str, str | None]:
    """Text and the encoding used when it was not UTF-8; binary content is an error."""
    binary = LoaderError(label, "binary content, not text")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as e:
                raise LoaderError(label, f"invalid {codec.upper()} text after the BOM") from e
            if not _looks_like_text(text):
                raise binary
            return text, None if codec == "utf-8-sig" else codec
    if b"\x00" in data:
        raise binary
    try:
        text, encoding = data.decode("utf-8"), None
    except UnicodeDecodeError as e:
        readings = []
        for codec, rare in _LEGACY_ENCODINGS.items():
            try:
                candidate = data.decode(codec)
            except UnicodeDecodeError:
                continue
            sample = candidate[:100_000]
            if _looks_like_text(sample):
                oddness = len(_MOJIBAKE.findall(sample)) + sum(map(sample.count, rare))
                readings.append((oddness + len(_CONTROL.findall(sample)), codec, candidate))
        if not readings:
            raise binary from e
        _, encoding, text = min(readings, key=lambda reading: reading[0])  # ties: first codec
    if not _looks_like_text(text):
        raise binary
    return text, encoding


def _looks_like_text(text: str) -> bool:
    return len(_CONTROL.findall(text)) <= 0.02 * len(text)


def _tidy(text: str) -> str:
    """NFC, one kind of newline, no control characters or trailing spaces, single blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n\n").replace("\u00ad", "")
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()
