"""The report as its reader sees it: opened in headless Chromium, offline, and printed.

Skipped, with the reason, where no Chromium is installed (CI installs
Debian's ``chromium-headless-shell``).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import Result

from backtest.names import SECTIONS

BROWSERS = ("chromium-headless-shell", "chrome-headless-shell", "chromium", "google-chrome")
#: Every host name resolves to nothing: a page that needs the network shows it.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND"

# Filled in by the page once loaded: what decoded, what is there, what was fetched.
PROBE = """
<script>
window.addEventListener("load", () => {
  const imgs = [...document.images];
  const out = {
    images: imgs.length,
    decoded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    sections: [...document.querySelectorAll("section")].map(s => s.id),
    fetched: performance.getEntriesByType("resource").map(e => e.name)
      .filter(n => !n.startsWith("data:")),
    width: document.documentElement.scrollWidth,
  };
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(f"no headless Chromium installed (looked for {', '.join(BROWSERS)})")


def _run(page: Path, *flags: str) -> str:
    args = [_browser(), "--headless", "--disable-gpu", "--hide-scrollbars", *flags, page.as_uri()]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.insert(1, "--no-sandbox")  # Chromium's sandbox refuses to run as root
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def report(backtest_run: Result) -> Path:
    return backtest_run.out / "report.html"  # type: ignore[attr-defined]


def test_every_image_decodes_and_nothing_is_fetched(report: Path, tmp_path: Path) -> None:
    probed = tmp_path / "probed.html"
    probed.write_text(report.read_text().replace("</body>", PROBE + "</body>"))
    dom = _run(probed, OFFLINE, "--window-size=1366,900", "--virtual-time-budget=10000",
               "--dump-dom")  # fmt: skip
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom)
    assert found is not None, "the page never finished loading"
    probe = json.loads(html.unescape(found.group(1)))
    assert probe["images"] >= 10 and probe["decoded"] == probe["images"]
    assert probe["sections"] == [a for a in SECTIONS if a != "regime"]  # the layer is off
    assert probe["fetched"] == []
    assert probe["width"] <= 1366, "nothing wider than a laptop screen"


def test_screenshot_is_the_same_offline(report: Path, tmp_path: Path) -> None:
    """Saved beside the report as report.png; with every host unresolvable it is unchanged."""
    shot = report.parent / "report.png"
    offline = tmp_path / "offline.png"
    _run(report, "--window-size=1366,2400", f"--screenshot={shot}")
    _run(report, OFFLINE, "--window-size=1366,2400", f"--screenshot={offline}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.read_bytes() == offline.read_bytes()


def _chart_headings(page: str) -> list[str]:
    """Headings of the sections holding a chart, in page order."""
    sections = re.findall(r"<section id=\"\w+\">\n<h2>([^<]+)</h2>(.*?)</section>", page, re.S)
    return [html.unescape(h) for h, body in sections if "<img " in body]


def _poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} (poppler-utils) is not installed: the PDF's layout is not checked")
    return path


def test_prints_to_pdf(report: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    _run(report, OFFLINE, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    assert pages >= len(SECTIONS) // 3, f"{pages} pages"


def test_printed_charts_stay_with_their_headings_and_readable(report: Path, tmp_path: Path) -> None:
    """Each chart is on its heading's page, printed at most 250 px per inch: 10 pt text
    drawn at 192 dpi stays above 7.5 pt on paper."""
    pdftotext, pdfimages = _poppler("pdftotext"), _poppler("pdfimages")
    pdf = tmp_path / "report.pdf"
    _run(report, OFFLINE, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    listing = subprocess.run([pdfimages, "-list", str(pdf)], capture_output=True, text=True,
                             check=True).stdout.splitlines()[2:]  # fmt: skip
    images = [(int(cols[0]), int(cols[12])) for cols in (line.split() for line in listing)]
    headings = _chart_headings(report.read_text())
    assert len(images) == len(headings)
    for heading, (page, ppi) in zip(headings, images, strict=True):
        text = subprocess.run([pdftotext, "-f", str(page), "-l", str(page), str(pdf), "-"],
                              capture_output=True, text=True, check=True).stdout  # fmt: skip
        # A long heading may wrap; its first words are enough to find it.
        assert heading[:25] in " ".join(text.split()), f"{heading!r} is not on page {page}"
        assert ppi <= 250, f"{heading!r} printed at {ppi} px per inch"
