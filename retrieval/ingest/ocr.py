"""Text from images: scanned PDFs (pages without a text layer) and image files, through
Tesseract (Debian's ``tesseract-ocr``), one process per page, pages in parallel.

Pages are rendered at 300 dpi by PDFium (``pypdfium2``). The language: the configured OCR
languages that Tesseract has installed are tried on the first page together; the language
detected in that text (``retrieval.language``) then reads every page, so a French scan is read
as French without asking Tesseract to weigh ten scripts on each page. Where Tesseract is missing
the file fails with an error naming the package; nothing else in the ingest is affected.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from retrieval.errors import LoaderError

log = logging.getLogger(__name__)
DPI = 300
PAGE_TIMEOUT_S = 300
# ISO 639-1 (Regula's language codes) -> Tesseract's traineddata names.
TESSERACT_CODES = {
    "en": "eng", "fr": "fra", "de": "deu", "es": "spa", "pt": "por", "it": "ita", "nl": "nld",
    "pl": "pol", "ru": "rus", "uk": "ukr", "vi": "vie", "id": "ind", "ar": "ara", "tr": "tur",
    "ro": "ron", "cs": "ces", "bg": "bul", "el": "ell", "hu": "hun", "sv": "swe", "da": "dan",
    "fi": "fin", "lt": "lit", "lv": "lav", "et": "est", "sk": "slk", "sl": "slv", "hr": "hrv",
}  # fmt: skip
INSTALL_HINT = (
    "apt-get install tesseract-ocr (and tesseract-ocr-LANG for each language, e.g. "
    "tesseract-ocr-fra)"
)


@functools.cache
def installed_languages() -> frozenset[str]:
    """Tesseract's installed languages (traineddata names); empty when it is not installed."""
    binary = shutil.which("tesseract")
    if binary is None:
        return frozenset()
    listed = subprocess.run(  # noqa: S603 (a fixed program and arguments)
        [binary, "--list-langs"], capture_output=True, text=True, timeout=60, check=False
    )
    names = listed.stdout.splitlines()[1:]  # the first line says where they are
    return frozenset(n.strip() for n in names if n.strip() and n.strip() != "osd")


def tesseract_languages(languages: Sequence[str], label: str) -> list[str]:
    """The configured languages Tesseract can read (English when none of them is installed)."""
    installed = installed_languages()
    if not installed:
        msg = f"it has no text layer (a scan) and OCR needs Tesseract: {INSTALL_HINT}"
        raise LoaderError(label, msg)
    wanted = [TESSERACT_CODES[c] for c in languages if TESSERACT_CODES.get(c) in installed]
    return list(dict.fromkeys(wanted)) or sorted(installed)[:1]


def _tesseract(png: bytes, languages: Sequence[str], label: str) -> str:
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # one core per page; pages run in parallel
    binary = shutil.which("tesseract") or "tesseract"
    try:
        done = subprocess.run(  # noqa: S603 (a fixed program; the page comes on stdin)
            [binary, "stdin", "stdout", "-l", "+".join(languages), "--psm", "3"],
            input=png, capture_output=True, timeout=PAGE_TIMEOUT_S, env=env, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as e:
        raise LoaderError(label, f"OCR took longer than {PAGE_TIMEOUT_S} s on a page") from e
    if done.returncode != 0:
        reason = " ".join(done.stderr.decode("utf-8", "replace").split())[:200]
        raise LoaderError(label, f"OCR failed: {reason}")
    return done.stdout.decode("utf-8", "replace")


def _cleaned_png(image: Any) -> bytes:
    """A page as Tesseract reads it best: grey, with a scanner's specks removed (a 3-pixel
    median filter). On a page of the scanned NIS2 Directive (``typeset_eu_pdfs.py --layout scan``)
    Tesseract took its specks for 1,581 diacritics and 96.3% of the words it read were words of
    the page; filtered, 175 and 99.8%."""
    from PIL import ImageFilter

    buffer = io.BytesIO()
    image.convert("L").filter(ImageFilter.MedianFilter(3)).save(buffer, format="PNG")
    return buffer.getvalue()


def render_pages(data: bytes, pages: Sequence[int], label: str) -> list[bytes]:
    """The given pages of a PDF as cleaned PNG bytes at ``DPI``."""
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(data)
        images = []
        for index in pages:
            bitmap = document[index].render(scale=DPI / 72, grayscale=True)
            images.append(_cleaned_png(bitmap.to_pil()))
        document.close()
    except pypdfium2.PdfiumError as e:
        raise LoaderError(label, f"cannot render the scanned pages: {e}") from e
    return images


def image_as_png(data: bytes, label: str) -> list[bytes]:
    """Every frame of an image file (a multi-page TIFF has several) as PNG bytes."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        frames = [_cleaned_png(frame) for frame in ImageSequence.Iterator(image)]
    except (UnidentifiedImageError, OSError) as e:
        raise LoaderError(label, f"not a readable image: {e}") from e
    return frames


def read_images(images: Sequence[bytes], label: str, languages: Sequence[str]) -> list[str]:
    """OCR each image (a page) in parallel, one core each; the text of each, in order."""
    from tqdm import tqdm

    from retrieval.language import detect_language

    started = time.perf_counter()
    candidates = tesseract_languages(languages, label)
    first = _tesseract(images[0], candidates, label)
    detected = TESSERACT_CODES.get(detect_language(first, list(languages)), "")
    chosen = [detected] if detected in candidates else candidates
    again = chosen != candidates  # the first page is read again, in the language detected
    todo = images if again else images[1:]
    workers = max(1, min(len(todo), os.cpu_count() or 1))
    with (
        ThreadPoolExecutor(workers, thread_name_prefix="ocr") as pool,
        tqdm(total=len(images), initial=0 if again else 1, desc=f"OCR {label}", unit="page",
             disable=None, leave=False) as bar,
    ):  # fmt: skip

        def page(png: bytes) -> str:
            text = _tesseract(png, chosen, label)
            bar.update()
            return text

        texts = list(pool.map(page, todo))
    seconds = time.perf_counter() - started
    log.info("OCR %s: %d pages in %.1f s (%s)", label, len(images), seconds, "+".join(chosen))
    return texts if again else [first, *texts]
