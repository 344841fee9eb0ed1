"""report.html opened in a real headless browser: every image decodes and every link resolves.

Runs Chromium (Debian package ``chromium``, /usr/bin/chromium). Without it the test is skipped
with the reason, except under CI (``CI`` set), where a missing browser fails: .ci/run installs
it. A probe copy of the report beside it (same folder, so relative links resolve alike) adds a
script that lists, after the page loaded, each <img> (decoded? its natural width) and each <a>
as the browser resolved it; the test then checks the files and anchors exist.
"""
import html
import json
import os
import re
import shutil
import subprocess
from urllib.parse import unquote, urlparse

import pytest

from specbias_ext.experiments.runner import reproduce

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--virtual-time-budget=10000"]
PROBE = """<script>
window.addEventListener('load', () => {
  const out = {
    imgs: [...document.images].map(i => ({kind: (i.getAttribute('src') || '').slice(0, 15),
                                          ok: i.complete && i.naturalWidth > 0})),
    links: [...document.links].map(a => ({href: a.href, raw: a.getAttribute('href')})),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id)};
  const pre = document.createElement('pre');
  pre.id = 'specbias-probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _browser() -> str:
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("CI: chromium is required to check report.html in a browser (Debian "
                        "package chromium; .ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium); CI runs this test")
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    reproduce(["regions-2d"], "smoke", "cpu", None, str(out), quiet=True, log=lambda *_: None)
    return out


def test_every_image_and_link_of_the_report_resolves(report, tmp_path):
    browser = _browser()
    page = (report / "report.html").read_text()
    probe = report / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"))
    run = subprocess.run([browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=300)
    m = re.search(r'<pre id="specbias-probe">(.*?)</pre>', run.stdout, re.S)
    assert m, f"the browser gave no probe result (rc {run.returncode}): {run.stderr[-2000:]}"
    seen = json.loads(html.unescape(m.group(1)))
    kinds = [i["kind"] for i in seen["imgs"]]
    assert any(k.startswith("data:image/png") for k in kinds)
    assert any(k.startswith("data:image/gif") for k in kinds), "the animation is not embedded"
    broken = [i for i in seen["imgs"] if not i["ok"]]
    assert not broken, f"images the browser could not decode: {broken}"
    missing = []
    for link in seen["links"]:
        url = urlparse(link["href"])
        if link["raw"].startswith("#"):
            if url.fragment not in seen["ids"]:
                missing.append(link["raw"])
        elif url.scheme == "file":
            if not os.path.exists(unquote(url.path)):
                missing.append(link["raw"])
        else:
            missing.append(f"{link['raw']} (not a file in the output folder)")
    assert not missing, f"links that do not resolve: {missing}"
    raws = {link["raw"] for link in seen["links"]}
    assert "claims.json" in raws and any(r.endswith(".gif") for r in raws)
    assert any(r.endswith(".pdf") for r in raws) and any(r.endswith(".png") for r in raws)


def test_every_figure_has_a_caption_that_names_its_grid(report):
    results = json.loads((report / "regions-2d" / "results.json").read_text())
    page = (report / "report.html").read_text()
    assert results["animations"] and results["figures"]
    for path in results["figures"] + results["animations"]:
        caption = results["captions"][path]
        assert "grid" in caption and len(caption) > 80, caption
        assert html.escape(caption) in page
    assert "analysis grid" in results["captions"][results["figures"][0]]
