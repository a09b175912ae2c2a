"""File -> LoadedDocument: plain text that keeps its line structure, plus declared metadata.

The bytes decide the kind (a PDF starts with ``%PDF-``, a .docx is a zip holding
``word/document.xml``); the name only chooses between plain text, Markdown and HTML. Headings
and paragraphs come out one per line with a blank line between blocks, so the chunker finds
"Article 5", "1." or "(a)" at line starts. Every failure is a LoaderError whose reason can be
shown to the user; no pypdf, python-docx, zip or YAML exception escapes.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path, PurePath
from typing import Any

import docx
import pypdf
import yaml
from docx.table import Table

from retrieval.errors import LoaderError
from retrieval.hygiene import normalize_language
from retrieval.ingest.file_types import KIND_BY_SUFFIX
from retrieval.models import LoadedDocument

DEFAULT_MAX_BYTES = 25 * 1024 * 1024

_MB = 1024 * 1024
_ZIP_MAX_TOTAL = 200 * _MB
_ZIP_MAX_MEMBERS = 5000
_ZIP_MAX_RATIO = 100
_ZIP_RATIO_MIN_SIZE = 10 * _MB
_TITLE_CHARS = 120
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
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

_HEADING_WORDS = (
    "article", "artículo", "articulo", "artigo", "articolo", "artikel", "artykuł", "art.",
    "pasal", "bab", "bagian", "chapter", "chapitre", "capítulo", "capitulo", "kapitel",
    "rozdział", "section", "sección", "part", "partie", "title", "titre", "título", "annex",
    "annexe", "anexo", "schedule", "điều", "chương", "mục", "статья", "глава", "раздел",
    "المادة", "مادة", "الفصل", "الباب", "§",
)  # fmt: skip
_HEADING_WORD = "(?:" + "|".join(map(re.escape, _HEADING_WORDS)) + ")"
_HEADING_LINE = re.compile(_HEADING_WORD + r"\s*(?:\d+|(?-i:[IVXLCDM]+))[a-z]?", re.IGNORECASE)
_MARKER = re.compile(
    _HEADING_WORD + r"(?=[\s\d]|$)"
    r"|\d+(?:\.\d+)*[.)](?=\s|$)|\((?:\d+|[a-z]{1,2}|[ivxlc]+)\)|[a-z]\)(?=\s)"
    r"|[ivxlc]+\.(?=\s)|[-–•▪·](?=\s)",
    re.IGNORECASE,
)
_PAGE_NUMBER = re.compile(r"(?:page\s+)?[-–]?\s*\d{1,4}\s*[-–]?(?:\s*(?:/|of)\s*\d{1,4})?", re.I)
_SENTENCE_END = (".", ":", ";", "!", "?", "。", "؟", '."', ".)", ".”")


def load_document(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> LoadedDocument:
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
    return _load(data, label, path.name, max_bytes, size)


def load_bytes(data: bytes, filename: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> LoadedDocument:
    """Extract text and metadata from an uploaded file's bytes; ``filename`` gives the hint."""
    return _load(data, filename, filename, max_bytes, len(data))


SIDECAR_SUFFIX = ".meta.yaml"


def sidecar_metadata(path: Path) -> tuple[dict[str, str], bytes]:
    """The keys of ``NAME.meta.yaml`` beside ``path`` (front-matter for any file type) and its
    bytes (they count in the file's content hash); empty when there is no sidecar."""
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return {}, b""
    data = sidecar.read_bytes()
    text = data.decode("utf-8", errors="replace")
    return _clean_metadata(_front_matter(text, str(sidecar))), data


def sniff_kind(data: bytes, filename: str) -> str:
    """The kind of file: pdf, docx, html, markdown or text, decided by the bytes.

    Raises LoaderError when the bytes contradict the name (a .pdf without ``%PDF-``, a .docx
    that is not a zip) or are binary where text was expected.
    """
    return _sniff(data, filename, filename)[0]


def _load(data: bytes, label: str, filename: str, max_bytes: int, size: int) -> LoadedDocument:
    if size > max_bytes or len(data) > max_bytes:
        msg = f"file too large: {_size(max(size, len(data)))} > limit {_size(max_bytes)}"
        raise LoaderError(label, msg)
    if not data or data.isspace():
        raise LoaderError(label, "empty document")
    kind, decoded = _sniff(data, label, filename)
    if decoded is None:
        text, meta = (_from_pdf if kind == "pdf" else _from_docx)(data, label)
    else:
        loader = {"html": _from_html, "markdown": _from_markdown, "text": _from_text}[kind]
        text, meta = loader(decoded[0], label)
        if decoded[1] is not None:  # not UTF-8
            meta["encoding"] = decoded[1]
    text = _tidy(text)
    if not text:
        raise LoaderError(label, "empty document")
    return LoadedDocument(text=text, metadata=_clean_metadata(meta))


def _sniff(data: bytes, label: str, filename: str) -> tuple[str, tuple[str, str | None] | None]:
    named = KIND_BY_SUFFIX.get(PurePath(filename).suffix.lower())
    if data.startswith(b"%PDF-") or (named == "pdf" and b"%PDF-" in data[:1024]):
        return "pdf", None
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if any(member.filename == "word/document.xml" for member in _zip_members(data, label)):
            return "docx", None
        raise LoaderError(label, "a zip archive but not a Word .docx (no word/document.xml)")
    if data.startswith(_OLE_MAGIC):
        raise LoaderError(label, "old binary Office format (.doc) is not supported; save as .docx")
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


def _from_text(text: str, label: str) -> tuple[str, dict[str, str]]:
    first = next((line.strip() for line in text.split("\n") if line.strip()), "")
    return text, {"title": first[:_TITLE_CHARS].strip()}


_FRONT_MATTER = re.compile(r"---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)")


def _from_markdown(text: str, label: str) -> tuple[str, dict[str, str]]:
    meta: dict[str, str] = {}
    if re.match(r"---[ \t]*\n", text):
        match = _FRONT_MATTER.match(text)
        if match is None:
            raise LoaderError(label, "YAML front-matter is not closed by a '---' line")
        meta = _front_matter(match.group(1) or "", label)
        text = text[match.end() :]
    heading = next((m for m in _ATX_HEADING.finditer(text) if m.group(1) == "#"), None)
    if heading is not None:
        meta.setdefault("title", _STRONG.sub(lambda m: m.group(1) or m.group(2), heading.group(2)))
    text = _ATX_HEADING.sub(lambda m: m.group(2), text)
    return _STRONG.sub(lambda m: m.group(1) or m.group(2), text), meta


def _front_matter(source: str, label: str) -> dict[str, str]:
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""  # line 1 is '---'
        problem = getattr(e, "problem", None) or "syntax error"
        raise LoaderError(label, f"invalid YAML front-matter{where}: {problem}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LoaderError(label, "YAML front-matter must be a mapping of keys to values")
    meta: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, list) and all(not isinstance(v, list | dict) for v in value):
            meta[str(key).lower()] = ", ".join(_scalar(v) for v in value if v is not None)
        elif value is not None and not isinstance(value, list | dict):
            meta[str(key).lower()] = _scalar(value)
    return meta


def _scalar(value: Any) -> str:
    if isinstance(value, dt.date):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _HTMLText(HTMLParser):
    _SKIP = frozenset({"script", "style", "nav", "header", "footer", "noscript", "template"})
    _BLOCK = frozenset({
        "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd",
        "table", "tr", "thead", "tbody", "tfoot", "caption", "section", "article", "main",
        "aside", "blockquote", "pre", "hr", "form", "figure", "figcaption", "address", "body",
    })  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.title: list[str] = []
        self.h1: list[str] = []
        self.meta: dict[str, str] = {}
        self._skip = self._pre = 0
        self._in_title = self._in_h1 = self._seen_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "html" and values.get("lang"):
            self.meta["language"] = values["lang"]
        elif tag == "link" and values.get("rel", "").lower() == "canonical" and values.get("href"):
            self.meta["source"] = values["href"]
        if tag in self._SKIP:
            self._skip += 1
        elif not self._skip:
            if tag == "title" and not self.title:
                self._in_title = True
            elif tag == "h1" and not self._seen_h1:
                self._in_h1 = True
            elif tag == "pre":
                self._pre += 1
            if tag in ("br", "td", "th"):
                self.out.append("\n")
            elif tag in self._BLOCK:
                self.out.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif not self._skip:
            if tag == "title":
                self._in_title = False
            elif tag == "h1" and self._in_h1:
                self._in_h1, self._seen_h1 = False, True
            elif tag == "pre":
                self._pre = max(0, self._pre - 1)
            if tag in self._BLOCK:
                self.out.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title.append(data)
            return
        if self._in_h1:
            self.h1.append(data)
        self.out.append(data if self._pre else re.sub(r"\s+", " ", data))


def _from_html(text: str, label: str) -> tuple[str, dict[str, str]]:
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    meta = dict(parser.meta)
    meta["title"] = " ".join("".join(parser.title).split()) or " ".join("".join(parser.h1).split())
    lines = [line.strip() for line in "".join(parser.out).split("\n")]
    return "\n".join(lines), meta


def _from_pdf(data: bytes, label: str) -> tuple[str, dict[str, str]]:
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        locked = reader.is_encrypted and not reader.decrypt("")
    except Exception as e:
        raise LoaderError(label, f"not a readable PDF: {_brief(e)}") from e
    if locked:
        raise LoaderError(label, "not a readable PDF: it is password-protected")
    try:
        pages = [page.extract_text() or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata is not None else None
    except Exception as e:
        raise LoaderError(label, f"not a readable PDF: {_brief(e)}") from e
    if not any(page.strip() for page in pages):
        raise LoaderError(label, "no extractable text (scanned PDF? OCR is not supported)")
    title = re.sub(r"^Microsoft Word - ", "", str(title or "")).strip()
    lines = _drop_page_furniture([_pdf_lines(page) for page in pages])
    return "\n\n".join(_reflow(lines)), {"title": "" if title.lower() == "untitled" else title}


def _pdf_lines(page: str) -> list[str]:
    return [" ".join(line.split()) for line in page.split("\n")]


def _drop_page_furniture(pages: list[list[str]]) -> list[str]:
    """Page numbers, and running headers/footers repeated at the edge of most pages."""

    def shape(line: str) -> str:  # "L 119/5" and "L 119/6" are the same running header
        return re.sub(r"\d+", "#", line)

    edges: Counter[str] = Counter()
    for body in ([line for line in lines if line] for lines in pages):
        edges.update({shape(body[0]), shape(body[-1])} if body else set())
    repeated = {line for line, n in edges.items() if len(pages) >= 3 and n > len(pages) / 2}

    def furniture(line: str) -> bool:
        if _PAGE_NUMBER.fullmatch(line):
            return True
        return shape(line) in repeated and not _MARKER.match(line)

    kept: list[str] = []
    for lines in pages:  # blank lines stay: they separate paragraphs
        start, end = 0, len(lines)
        while start < end and (not lines[start] or furniture(lines[start])):
            start += 1
        while end > start and (not lines[end - 1] or furniture(lines[end - 1])):
            end -= 1
        kept.extend(lines[start:end])
    return kept


def _reflow(lines: list[str]) -> list[str]:
    """Join hard-wrapped lines into paragraphs; headings and numbered points start new ones."""
    lengths = sorted(len(line) for line in lines if line)
    width = lengths[int(len(lengths) * 0.9)] if lengths else 0
    paragraphs: list[str] = []
    previous = ""
    for line in lines:
        if not line:
            previous = ""
            continue
        ended = previous.endswith(_SENTENCE_END)
        short = len(previous) < 0.6 * width
        if (
            short  # also true at the start and after a blank line
            or _HEADING_LINE.fullmatch(line)
            or (ended and (_MARKER.match(line) or len(previous) < 0.85 * width))
        ):
            paragraphs.append(line)
        else:
            paragraphs[-1] = _join(paragraphs[-1], line)
        previous = line
    return paragraphs


def _join(left: str, right: str) -> str:
    if left.endswith("\u00ad"):
        return left[:-1] + right
    if left.endswith("-") and left[-2:-1].isalpha():
        return (left[:-1] if right[:1].islower() else left) + right
    return f"{left} {right}"


def _zip_members(data: bytes, label: str) -> list[zipfile.ZipInfo]:
    """The central directory: names and declared sizes, nothing decompressed."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise LoaderError(label, "damaged zip archive, not a readable .docx") from e


def _check_zip(data: bytes, label: str) -> None:
    """Reject zip bombs before decompressing (zipfile never yields more than declared sizes)."""
    members = _zip_members(data, label)
    if len(members) > _ZIP_MAX_MEMBERS:
        msg = f"rejected .docx: {len(members)} archive members (limit {_ZIP_MAX_MEMBERS})"
        raise LoaderError(label, msg)
    total = sum(member.file_size for member in members)
    if total > _ZIP_MAX_TOTAL:
        msg = f"rejected .docx: expands to {_size(total)} (limit {_size(_ZIP_MAX_TOTAL)})"
        raise LoaderError(label, msg)
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _ZIP_RATIO_MIN_SIZE and ratio > _ZIP_MAX_RATIO:
            msg = f"rejected .docx: {member.filename} expands {ratio:.0f}x (possible zip bomb)"
            raise LoaderError(label, msg)


def _from_docx(data: bytes, label: str) -> tuple[str, dict[str, str]]:
    _check_zip(data, label)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = [block for block in _docx_blocks(document) if block.strip()]
        properties = document.core_properties
        meta = {"title": properties.title or "", "language": properties.language or ""}
    except Exception as e:
        raise LoaderError(label, f"not a readable Word .docx: {_brief(e)}") from e
    return "\n\n".join(blocks), meta


def _docx_blocks(container: Any) -> Iterator[str]:
    """Paragraph texts in document order, descending into table cells (merged cells once)."""
    for item in container.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells = {cell._tc: cell for cell in row.cells}  # a merged cell repeats
                texts = ("\n".join(filter(str.strip, _docx_blocks(c))) for c in cells.values())
                yield "\n".join(filter(None, texts))
        else:
            yield item.text


def _tidy(text: str) -> str:
    """NFC, one kind of newline, no control characters or trailing spaces, single blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n\n").replace("\u00ad", "")
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _clean_metadata(meta: dict[str, str]) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for key, value in meta.items():
        value = " ".join(unicodedata.normalize("NFC", value).split())
        if key == "language":  # ISO 639-1 from any code or name; unknown: detected later
            value = normalize_language(value) or ""
        if value:
            cleaned[key] = value
    return cleaned


def _size(n: int) -> str:
    if n >= _MB:
        return f"{n / _MB:.1f}".removesuffix(".0") + " MB"
    return f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} bytes"


def _brief(error: Exception) -> str:
    text = " ".join(str(error).split())
    return (text[:120] or type(error).__name__).rstrip(".")
