"""Office files beyond .docx: legacy Word .doc (through LibreOffice or ``antiword``, Debian
packages) and OpenDocument .odt (its ``content.xml``, read with the standard library).

Ministries keep many regulations as old binary .doc files. LibreOffice converts one to .docx,
whose reader keeps Word's automatic numbering; without it ``antiword`` gives the text and the
tables but not the list numbers. Either runs in a subprocess with a time limit, so a damaged
file fails alone; with neither installed a .doc fails with an error naming the packages. An .odt
is a zip (checked for bombs like a .docx); its headings, paragraphs, numbered lists (the number
the list style shows: "Article 1", "2.", "(a)") and table rows come out in document order.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from retrieval.errors import LoaderError
from retrieval.ingest.docx_numbering import format_number

DOC_TIMEOUT_S = 120  # LibreOffice's first start takes a few seconds
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_FORMATS = {"1": "decimal", "a": "lowerLetter", "A": "upperLetter", "i": "lowerRoman",
            "I": "upperRoman"}  # fmt: skip

Reading = tuple[str, dict[str, str]]


def read_doc(data: bytes, label: str) -> Reading:
    """A legacy Word .doc as text: through LibreOffice (converted to .docx, so Word's automatic
    numbering survives), else ``antiword`` (text and tables, but no list numbers)."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is not None:
        return _doc_through_libreoffice(soffice, data, label)
    antiword = shutil.which("antiword")
    if antiword is None:
        msg = (
            "reading a legacy .doc needs LibreOffice or antiword "
            "(Debian: apt-get install libreoffice-writer-nogui, or antiword)"
        )
        raise LoaderError(label, msg)
    done = _run([antiword, "-w", "0", "-m", "UTF-8.txt", "-"], data, label)
    blocks = []
    for block in done.decode("utf-8", "replace").split("\n\n"):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if lines and all(line.startswith("|") and line.endswith("|") for line in lines):
            for row in lines:  # a table: one block a row, its cells on their own lines
                blocks.append("\n".join(c.strip() for c in row.strip("|").split("|") if c.strip()))
        elif lines:
            blocks.append(" ".join(" ".join(lines).split()))
    return "\n\n".join(blocks), {}


def _doc_through_libreoffice(soffice: str, data: bytes, label: str) -> Reading:
    from retrieval.ingest.readers import read_docx  # readers imports this module

    with tempfile.TemporaryDirectory(prefix="regula-doc-") as tmp:
        folder = Path(tmp)
        (folder / "in.doc").write_bytes(data)
        profile = (folder / "profile").as_uri()  # its own profile: runs never share a lock
        _run(
            [soffice, f"-env:UserInstallation={profile}", "--headless", "--norestore",
             "--convert-to", "docx", "--outdir", str(folder), str(folder / "in.doc")],
            b"", label,
        )  # fmt: skip
        converted = folder / "in.docx"
        if not converted.exists():
            raise LoaderError(label, "not a readable Word .doc: LibreOffice could not convert it")
        return read_docx(converted.read_bytes(), label)


def _run(command: list[str], data: bytes, label: str) -> bytes:
    """A converter's output; its failure or time-out as this file's error."""
    try:
        done = subprocess.run(  # noqa: S603 (a fixed program; the document is a file or stdin)
            command, input=data, capture_output=True, timeout=DOC_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as e:
        msg = f"{Path(command[0]).name} took over {DOC_TIMEOUT_S} s on this .doc"
        raise LoaderError(label, msg) from e
    if done.returncode != 0:
        reason = " ".join(done.stderr.decode("utf-8", "replace").split())[:160]
        raise LoaderError(label, f"not a readable Word .doc: {reason or 'conversion failed'}")
    return done.stdout


@dataclass(frozen=True)
class _ListLevel:
    fmt: str
    prefix: str
    suffix: str
    start: int


def _list_styles(root: ElementTree.Element) -> dict[str, dict[int, _ListLevel]]:
    """Numbered list styles: name -> level (1-based) -> how its number is written."""
    styles: dict[str, dict[int, _ListLevel]] = {}
    for style in root.iter(f"{_TEXT}list-style"):
        levels = {}
        for level in style.findall(f"{_TEXT}list-level-style-number"):
            fmt = _FORMATS.get(level.get(f"{_STYLE}num-format", "1"), "")
            levels[int(level.get(f"{_TEXT}level", "1"))] = _ListLevel(
                fmt,
                level.get(f"{_STYLE}num-prefix", ""),
                level.get(f"{_STYLE}num-suffix", ""),
                int(level.get(f"{_TEXT}start-value", "1")),
            )
        styles[style.get(f"{_STYLE}name", "")] = levels
    return styles


class _OdtText:
    """Walks ``office:text`` in order, numbering list items as their list style says."""

    def __init__(self, styles: dict[str, dict[int, _ListLevel]]) -> None:
        self.styles = styles
        self.counters: dict[str, dict[int, int]] = {}
        self.blocks: list[str] = []

    def walk(self, element: ElementTree.Element, style: str = "", depth: int = 0) -> None:
        for child in element:
            tag = child.tag
            if tag in (f"{_TEXT}p", f"{_TEXT}h"):
                self.blocks.append(_inline_text(child))
            elif tag == f"{_TEXT}list":
                name = child.get(f"{_TEXT}style-name") or style
                if child.get(f"{_TEXT}continue-numbering") != "true" and depth == 0:
                    self.counters.pop(name, None)
                for item in child.findall(f"{_TEXT}list-item"):
                    self._item(item, name, depth + 1)
            elif tag == f"{_TABLE}table":
                for row in child.iter(f"{_TABLE}table-row"):
                    cells = [
                        "\n".join(filter(None, (_inline_text(p) for p in cell.iter(f"{_TEXT}p"))))
                        for cell in row.findall(f"{_TABLE}table-cell")
                    ]
                    self.blocks.append("\n".join(filter(None, cells)))
            elif tag == f"{_TEXT}section":
                self.walk(child, style, depth)

    def _item(self, item: ElementTree.Element, style: str, level: int) -> None:
        definition = self.styles.get(style, {}).get(level)
        label = ""
        if definition is not None and definition.fmt:
            counters = self.counters.setdefault(style, {})
            counters[level] = counters.get(level, definition.start - 1) + 1
            for deeper in [k for k in counters if k > level]:
                del counters[deeper]
            number = format_number(counters[level], definition.fmt)
            label = f"{definition.prefix}{number}{definition.suffix}".strip()
        first = len(self.blocks)
        self.walk(item, style, level)
        if label and first < len(self.blocks):
            self.blocks[first] = f"{label} {self.blocks[first]}"


def _inline_text(element: ElementTree.Element) -> str:
    parts: list[str] = [element.text or ""]
    for child in element:
        if child.tag == f"{_TEXT}s":
            parts.append(" " * int(child.get(f"{_TEXT}c", "1")))
        elif child.tag in (f"{_TEXT}tab", f"{_TEXT}line-break"):
            parts.append(" ")
        elif child.tag != f"{_TEXT}note":  # footnotes stay out of the body
            parts.append(_inline_text(child))
        parts.append(child.tail or "")
    return " ".join("".join(parts).split())


def read_odt(data: bytes, label: str) -> Reading:
    """An OpenDocument text (.odt): paragraphs, numbered lists and table rows in order."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            content = archive.read("content.xml")
            styles = archive.read("styles.xml") if "styles.xml" in archive.namelist() else b""
            meta = archive.read("meta.xml") if "meta.xml" in archive.namelist() else b""
        root = ElementTree.fromstring(content)  # noqa: S314 (expat refuses entity bombs)
        list_styles = _list_styles(root)
        if styles:
            list_styles = {**_list_styles(ElementTree.fromstring(styles)), **list_styles}  # noqa: S314
        body = root.find(f"{_OFFICE}body/{_OFFICE}text")
        reader = _OdtText(list_styles)
        if body is not None:
            reader.walk(body)
        info: dict[str, str] = {}
        if meta:
            found = ElementTree.fromstring(meta).find(f"{_OFFICE}meta")  # noqa: S314
            if found is not None:
                info = {"title": found.findtext(f"{_DC}title") or "",
                        "language": found.findtext(f"{_DC}language") or ""}  # fmt: skip
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError) as e:
        raise LoaderError(label, f"not a readable OpenDocument .odt: {e}") from e
    return "\n\n".join(b for b in reader.blocks if b.strip()), info
