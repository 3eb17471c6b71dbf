"""The front-end libraries vendored in the package (worker/web/static/vendor/, see its README): each is
the pinned file with its licence, nothing unlisted ships, and they run under the console's CSP, which
allows no inline script or style at all."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from selenium.webdriver.common.by import By

import ces.worker.web
from tests.support import ServedApp, wait_until

VENDOR = Path(ces.worker.web.__file__).parent / "static" / "vendor"
PACKAGES = json.loads((VENDOR / "VENDOR.json").read_text())["packages"]
TOOLING = {"VENDOR.json", "README.md", "update.py"}  # the folder's own files, beside what it vendors


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p["name"])
def test_each_vendored_file_is_the_pinned_one_with_its_licence(package):
    assert package["version"].count(".") == 2 and package["tarball"].endswith(f"-{package['version']}.tgz")
    assert package["integrity"].startswith("sha512-")  # the tarball's, as the registry publishes it
    assert hashlib.sha256((VENDOR / package["file"]).read_bytes()).hexdigest() == package["sha256"]
    licence = VENDOR / package["license_file"]
    assert licence.is_file() and licence.stat().st_size > 0 and package["license"]


def test_nothing_unlisted_sits_in_the_vendor_folder():
    listed = {p[key] for p in PACKAGES for key in ("file", "license_file")} | TOOLING
    present = {str(f.relative_to(VENDOR)) for f in VENDOR.rglob("*") if f.is_file() and "__pycache__" not in f.parts}
    assert present == listed


# The console's policy: no inline script or style (style attributes set through the CSSOM are allowed).
CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'"
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Charts</title>{config}
<script src="/probe.js"></script>
<script src="/vendor/htmx/htmx.min.js"></script>
<script src="/vendor/chartjs/chart.umd.min.js"></script>
<script src="/charts.js" defer></script></head>
<body><main><canvas id="trend"></canvas><canvas id="answers"></canvas><canvas id="spark"></canvas>
<button hx-get="/fragment" hx-target="#out">Load</button><div id="out"></div></main></body></html>"""
HTMX_CONFIG = """<meta name="htmx-config" content='{"includeIndicatorStyles": false, "allowEval": false}'>"""
PROBE = """window.violations = [];
document.addEventListener("securitypolicyviolation", e =>
  violations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`));"""
# The console's three kinds of chart: the weekly trend (CES with its 95 % band, responses as bars on a
# second axis), the distribution of answers, a sparkline.
CHARTS = """const weeks = ["W1", "W2", "W3", "W4", "W5", "W6"];
new Chart(document.getElementById("trend"), {data: {labels: weeks, datasets: [
  {type: "line", label: "95 % low", data: [52, 55, 49, 58, 60, 57], yAxisID: "ces", pointRadius: 0, borderWidth: 0},
  {type: "line", label: "95 % high", data: [70, 72, 68, 75, 77, 74], yAxisID: "ces", pointRadius: 0, borderWidth: 0,
   fill: "-1", backgroundColor: "rgba(37, 99, 235, 0.2)"},
  {type: "line", label: "CES", data: [61, 64, 58, 67, 69, 66], yAxisID: "ces", borderColor: "#1d4ed8"},
  {type: "bar", label: "Responses", data: [40, 52, 38, 61, 70, 55], yAxisID: "n", backgroundColor: "#9ca3af"}]},
  options: {animation: false, scales: {ces: {position: "left", min: 0, max: 100},
                                       n: {position: "right", grid: {drawOnChartArea: false}}}}});
new Chart(document.getElementById("answers"), {type: "bar", data: {labels: ["1", "2", "3", "4", "5", "6", "7"],
  datasets: [{label: "Answers", data: [3, 5, 8, 12, 30, 41, 22]}]}, options: {animation: false}});
new Chart(document.getElementById("spark"), {type: "line", data: {labels: weeks, datasets: [{data: [3, 5, 4, 6, 7, 6],
  pointRadius: 0}]}, options: {animation: false, plugins: {legend: {display: false}, tooltip: {enabled: false}},
  scales: {x: {display: false}, y: {display: false}}}});"""
DRAWN = """return ["trend", "answers", "spark"].map(id => {
  const canvas = document.getElementById(id), chart = Chart.getChart(canvas);
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  return [id, chart.data.datasets.length, pixels.some((value, i) => i % 4 === 3 && value > 0)];
});"""


@pytest.fixture
def page(app_port):
    app = FastAPI()
    headers = {"Content-Security-Policy": CSP}
    scripts = {"probe.js": PROBE, "charts.js": CHARTS}
    app.get("/page")(lambda configured: HTMLResponse(PAGE.format(config=HTMX_CONFIG if configured else ""),
                                                     headers=headers))
    app.get("/{name}.js")(lambda name: Response(scripts[f"{name}.js"], media_type="text/javascript", headers=headers))
    app.get("/fragment")(lambda: HTMLResponse('<p id="done">Loaded</p>', headers=headers))
    app.mount("/vendor", StaticFiles(directory=VENDOR))
    with ServedApp(app, app_port) as served:
        yield served


@pytest.mark.browser
def test_htmx_and_the_charts_run_under_the_consoles_csp(page, browser):
    browser.get(f"{page.url}/page?configured=true")
    browser.find_element(By.TAG_NAME, "button").click()
    wait_until(lambda: browser.find_elements(By.ID, "done"), 10, message="htmx to swap the fragment in")
    assert browser.execute_script(DRAWN) == [["trend", 4, True], ["answers", 1, True], ["spark", 1, True]]
    assert browser.execute_script("return document.querySelectorAll('style').length") == 0
    assert browser.execute_script("return violations") == []

    # Without the htmx-config meta, htmx inserts its indicator <style> and the policy blocks it.
    browser.get(f"{page.url}/page?configured=")
    wait_until(lambda: browser.execute_script("return violations"), 10, message="the CSP violation")
    assert browser.execute_script("return violations")[0].startswith("style-src-elem blocked inline")
