"""Benchmark: the content check of attached source documents (decision 0021) on scans of realistic size.

Built (seeded noise, which compresses worst): one A4 page at 300 dpi (2480 x 3508, greyscale) as JPEG, PNG
and LZW TIFF, and a 6-page PDF embedding that JPEG on each page (about 20 MB, the protocol's limit).
Timed: ``check_file_content`` (type from the first bytes, the file opened by pikepdf or decoded by Pillow,
SHA-256, name), median of ``--runs`` runs per file. No target: the figure says what an upload costs the
web worker. Usage: ``python bench/source_documents.py [--runs 5]``.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import numpy as np
import pikepdf
from PIL import Image

from rodnan.core.files import check_file_content
from rodnan.core.protocol.model import FILE_MAX_BYTES_CEILING, ItemDef

ITEM = ItemDef(code="scan", label="Scan", type="file", accept=["application/pdf", "image/png", "image/jpeg", "image/tiff"])


def _scans() -> list[tuple[str, bytes, str]]:
    page = (np.random.default_rng(1).random((3508, 2480)) * 255).astype("uint8")
    encoded = {}
    for fmt, options in (("JPEG", {"quality": 40}), ("PNG", {}), ("TIFF", {"compression": "tiff_lzw"})):
        out = io.BytesIO()
        Image.fromarray(page).save(out, fmt, **options)
        encoded[fmt] = out.getvalue()
    pdf = pikepdf.new()
    for _ in range(6):
        pdf.add_blank_page(page_size=(595, 842))
        image = pikepdf.Stream(pdf, encoded["JPEG"], Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=2480,
                               Height=3508, ColorSpace=pikepdf.Name.DeviceGray, BitsPerComponent=8,
                               Filter=pikepdf.Name.DCTDecode)  # fmt: skip
        pdf.pages[-1].Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    out = io.BytesIO()
    pdf.save(out)
    return [("PDF, 6 pages", out.getvalue(), "scan.pdf"), ("JPEG, A4 300 dpi", encoded["JPEG"], "scan.jpg"),
            ("PNG, A4 300 dpi", encoded["PNG"], "scan.png"), ("TIFF, A4 300 dpi", encoded["TIFF"], "scan.tif")]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    for label, data, name in _scans():
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            check_file_content(ITEM, data, name, FILE_MAX_BYTES_CEILING)
            times.append(time.perf_counter() - start)
        print(f"{label}: {len(data) / 1e6:.1f} MB, check {statistics.median(times) * 1000:.0f} ms (median of {runs})")


if __name__ == "__main__":
    main()
