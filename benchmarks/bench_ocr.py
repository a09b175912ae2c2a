"""OCR's cost per page, against reading the same pages born-digital and against Tesseract alone.

    python benchmarks/bench_ocr.py [--pages 8]

A decree is typeset (fpdf2, running header, page numbers), then rasterised at 150 dpi into an
image-only PDF as a scanner hands it over. Printed per page, all in this run: the born-digital
read (pypdf + re-flow), the scanned read through Regula (render at 300 dpi, Tesseract one
process per page, pages in parallel over the cores, re-flow), and the bare tool on one
rendered page (``tesseract`` on a PNG, one thread) as the baseline. Needs ``tesseract-ocr``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, not an install

import pypdfium2

from retrieval.ingest import ocr
from retrieval.ingest.loaders import load_document
from tests.fixtures_files import make_pdf


def decree(pages: int) -> list[str]:
    blocks = ["Decree AR-9 on the Keeping of Municipal Archives"]
    for n in range(1, pages * 3 + 1):
        blocks += [f"Article {n} - Duty {n}",
                   f"1. Registers of kind {n} shall be kept for {n + 10} years. " * 9]  # fmt: skip
    return blocks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("tesseract") is None:
        print("tesseract is not installed (apt-get install tesseract-ocr)")
        return 1
    with tempfile.TemporaryDirectory() as folder:
        typeset = make_pdf(Path(folder) / "decree.pdf", decree(args.pages), page_numbers=True,
                           running_header="Official Gazette No 12")  # fmt: skip
        document = pypdfium2.PdfDocument(str(typeset))
        images = [document[i].render(scale=150 / 72, grayscale=True).to_pil()
                  for i in range(len(document))]  # fmt: skip
        document.close()
        scanned = Path(folder) / "scan.pdf"
        images[0].save(scanned, save_all=True, append_images=images[1:], resolution=150)
        pages = len(images)

        started = time.perf_counter()
        born = load_document(typeset)
        born_s = time.perf_counter() - started
        started = time.perf_counter()
        read = load_document(scanned, ocr_languages=["en"])
        scan_s = time.perf_counter() - started
        [png] = ocr.render_pages(scanned.read_bytes(), [0], "page 1")
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        started = time.perf_counter()
        subprocess.run(["tesseract", "stdin", "stdout", "-l", "eng"], input=png,
                       capture_output=True, check=True, env=env)  # fmt: skip
        bare_s = time.perf_counter() - started

    same = sum(w in read.text for w in born.text.split()) / max(1, len(born.text.split()))
    cores = len(os.sched_getaffinity(0))
    print(f"pages: {pages}, cores: {cores}")
    print(f"born-digital PDF read      {born_s / pages * 1000:8.1f} ms/page")
    print(f"scanned PDF read (OCR)     {scan_s / pages * 1000:8.1f} ms/page  "
          f"({scan_s:.1f} s for the file)")  # fmt: skip
    print(f"tesseract alone, one page  {bare_s * 1000:8.1f} ms/page (one thread)")
    print(f"OCR per page / tesseract alone: {scan_s / pages / bare_s:.2f}x "
          f"(below 1 when pages run in parallel on {cores} cores)")  # fmt: skip
    print(f"words of the born-digital text found in the OCR text: {same:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
