"""report.html: same content as report.md plus figures and the manifest, escaped, deterministic, self-contained; and
the page opened in a real headless Chromium (no console errors, every image decoded, the summary table complete)."""

from __future__ import annotations

import copy
import io
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import markupsafe
import pytest

from synthgap.reports import html
from synthgap.reports.summary import FAMILY_TITLES, extraction_blocks, families, rows

HOSTILE = "<script>alert(1)</script> & co"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def metric(synthetic, family, name, value, base, ci, base_ci, ratio, beyond):
    return {"name": name, "family": family, "synthetic": synthetic, "goal": "lower", "range": [0.0, None],
            "ideal": None, "real_vs_synthetic": value, "ci95": ci, "real_vs_real": base, "real_vs_real_ci95": base_ci,
            "ratio_to_baseline": ratio, "beyond_baseline": beyond, "n": 150, "details": {}, "role": "synthetic"}


def stats(f1, per_1k, overgen):
    return {"supported_share": {"value": 0.9 - overgen, "ci95": [0.8 - overgen, 1.0 - overgen]},
            "overgeneralization_rate": {"value": overgen, "ci95": [0.0, overgen + 0.05]},
            "f1": {"value": f1, "ci95": [f1 - 0.05, f1 + 0.05]} if f1 is not None else
            {"value": None, "ci95": None, "why": "no gold in this corpus"},
            "attributes_per_1k_tokens": {"value": per_1k, "ci95": [per_1k * 0.8, per_1k * 1.2]}}


GROUPS = {"verified": ["supported_share", "overgeneralization_rate"], "gold": ["f1"],
          "descriptors": ["attributes_per_1k_tokens"]}


def by_history(rate):
    return {"answered": 30, "unanswered": 0, "overgeneralized_scope": {"one-off": 1},
            "by_history": {"conversations": {"1": {"users": 40, "attributes": 30, "overgeneralization_rate": rate}}}}


def make_results(synthetic=("templates", "messy & co"), note="3 long turns: spaCy features read their first 3000 "
                 "characters (length counts the whole turn)") -> dict:
    """Shaped like `synthgap compare` results.json (see .cache/sample_results): two synthetic corpora, every family."""
    metrics = []
    for k, label in enumerate(synthetic):
        d = 0.05 * k
        metrics += [
            metric(label, "embedding", "frechet_distance", 0.89 - d, 0.662, [0.849, 0.931], [0.622, 0.702], 1.34, True),
            metric(label, "embedding", "mmd2", 0.024, 0.001, [0.021, 0.029], [-0.001, 0.004], 19.1, True),
            metric(label, "embedding", "c2st_auc", 0.946, 0.53, [0.925, 0.972], [0.472, 0.607], 14.8, True),
            metric(label, "embedding", "mauve", 0.238, 0.958, [0.101, 0.375], [0.821, 1.0], 18.1, True),
            metric(label, "style", "length_tokens", 0.227 + d, 0.067, [0.123, 0.33], [0.0, 0.137], 3.4, False),
            metric(label, "style", "emoji", 0.003, 0.003, [0.0, 0.009], [0.0, 0.009], 1.0, False),
            metric(label, "style", "politeness", 0.017, 0.0, [0.0, 0.046], [0.0, 0.007], None, False),
            metric(label, "style", "hedged_share", 0.0, 0.0, [0.0, 0.0], [0.0, 0.0], None, False),
            metric(label, "extraction", "extraction_attributes_per_1k_tokens", -27.7, -0.422, [-32.2, -23.3],
                   [-7.035, 3.639], 65.7, True),
            metric(label, "extraction", "extraction_overgeneralization_rate", 0.017, 0.01, [-0.02, 0.05],
                   [-0.03, 0.04], 1.2, False),
            metric(label, "extraction", "extraction_supported_share", 0.2, 0.01, [0.1, 0.3], [-0.03, 0.04], 20.0, True),
        ]
    corpora = {"sharegpt": {"users": 40, "attributes": 35, "gold": False, "statistics": stats(None, 3.29, 0.029),
                            "groups": GROUPS, "verifier": by_history(0.029)}}
    for k, label in enumerate(synthetic):
        corpora[label] = {"users": 40, "attributes": 172, "gold": True,
                          "statistics": stats(0.64 - 0.1 * k, 33.4, 0.012),
                          "groups": GROUPS, "verifier": by_history(0.012),
                          "gold_provenance": {"disclosed": {"gold": 100, "stated": 40}}}
    return {
        "schema": "synthgap/compare-results/1", "config": {"unit": "turn", "sample": 150, "seed": 0},
        "real": {"label": "sharegpt", "source": "sharegpt", "unit": "turn", "units": 61293},
        "synthetic": [{"label": s, "source": f"c{k}.jsonl", "unit": "turn", "units": 540}
                      for k, s in enumerate(synthetic)],
        "metrics": metrics,
        "extraction": {"config": {"extractor": "rules", "sample_users": 40, "verifier": "trained"},
                       "verifier": {"verifier": "trained", "trained_on": {"claims": 701}}, "corpora": corpora,
                       "matched_history": {s: {"why": "no shared history size"} for s in synthetic}},
        "agreement": {"groups": {"human-human": 0.61, "model-human": 0.42},
                      "selection_rate": {"annotator_1": 0.3, "model_a": 0.45, "model_b": None}},
        "notes": [note],
    }


def make_manifest() -> dict:
    return {"command": "compare", "argv": ["compare", "--real", "sharegpt", "--synthetic", "templates=c0.jsonl",
                                           "--sample", "150", "-o", "r1"],
            "created": "2026-11-26T15:35:39+0000", "versions": {"python": "3.11.7", "synthgap": "0.1.0"},
            "config": {"unit": "turn", "sample": 150}, "fingerprint": "b38d3a109b47d504",
            "inputs": {"c0.jsonl": "e91078e0f34a6d38"}, "counts": {"metrics": 20}}


@pytest.fixture(scope="module")
def images() -> list[tuple[str, str, str, bytes]]:
    """Two small real PNGs drawn with matplotlib (what figures.py hands over, made here)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    fig, ax = plt.subplots(figsize=(6, 3), dpi=80)
    ax.barh(["frechet", "mmd2", "c2st", "mauve"], [1.34, 19.1, 14.8, 18.1], color="#c0392b")
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xlabel("ratio to real-vs-real")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    out.append(("embedding_ratios", "Embedding gap relative to the yardstick", "One bar per metric; 1 = real-vs-real.",
                buf.getvalue()))
    fig, ax = plt.subplots(figsize=(5, 3), dpi=80)
    ax.hist([0.1, 0.2, 0.2, 0.3, 0.35, 0.5, 0.55, 0.6], bins=5, alpha=0.6, label="real")
    ax.hist([0.4, 0.5, 0.6, 0.65, 0.7, 0.8], bins=5, alpha=0.6, label="synthetic")
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    out.append(("style & length", "Turn length <b>distribution</b>", "Tokens per user turn & more.", buf.getvalue()))
    return out


def section(page: str, ident: str) -> str:
    return page.split(f'<section id="{ident}"')[1].split("</section>")[0]


def test_content_matches_the_markdown_report(images):
    results, manifest = make_results(), make_manifest()
    page = html.render(results, manifest, images)
    summary = section(page, "summary")
    assert summary.count("<tr") == 1 + len(results["metrics"])  # header + one row per metric
    for row in rows(results):
        for cell in row.summary_cells():
            assert html_escape(cell) in summary, cell
    for family in families(results):
        assert f'<section id="family-{family}"' in page
        assert f"<h2>{FAMILY_TITLES[family]}</h2>" in page
    for family in ("extraction", "overgeneralization"):  # real vs each synthetic corpus, every cell shown
        body = section(page, f"family-{family}")
        tables = [b.table for b in extraction_blocks(results, family) if b.table is not None]
        assert body.count("<table") == len(tables) >= 2
        for table in tables:
            assert all(html_escape(h) in body for h in table.header)
            for cells in table.body:
                assert all(html_escape(c) in body for c in cells), cells
    extraction = section(page, "family-extraction")
    assert "Extractor: rules." in extraction and "messy &amp; co (40 users, 172 attributes)" in extraction
    assert "<h3>sharegpt (real) vs messy &amp; co (synthetic)</h3>" in extraction
    assert extraction.count("n/a — no gold in this corpus") == 3  # F1 of sharegpt in both pairs, and its provenance
    assert extraction.count('class="badge v-nobaseline">n/a — sharegpt: no gold in this corpus') == 2
    over = section(page, "family-overgeneralization")
    assert over.count("n/a — no shared history size") == 2 * 4  # two cells and the verdict of each matched row, text
    assert "Overgeneralization rate by history size" in over and "0.029 (30 attributes, 40 users)" in over
    agreement = section(page, "family-agreement")
    assert "mean pairwise kappa" in agreement and "model-human" in agreement and "0.420" in agreement
    assert "spaCy features read their first 3000 characters" in section(page, "notes")
    prov = section(page, "provenance")
    assert "b38d3a109b47d504" in prov and "compare --real sharegpt" in prov and "2026-11-26T15:35:39+0000" in prov
    assert "<details>" in prov and html_escape(json.dumps(manifest, indent=2)) in prov  # the full manifest, pretty
    assert page.count("<figure") == 2 and page.count('src="data:image/png;base64,') == 2
    assert "<figcaption><strong>Turn length &lt;b&gt;distribution&lt;/b&gt;.</strong>" in page
    assert 'class="v-beyond' in summary and 'class="badge v-within"' in summary and "v-nobaseline" in summary


def html_escape(text: str) -> str:
    return str(markupsafe.escape(text))  # what Jinja2's autoescape writes (quotes too)


def test_without_manifest_figures_or_agreement():
    results = make_results()
    del results["agreement"], results["notes"]
    page = html.render(results, None, [])
    assert 'id="provenance"' not in page and "<figure" not in page and 'id="family-agreement"' not in page
    assert 'id="notes"' not in page and 'id="family-overgeneralization"' in page


def test_every_text_is_escaped(images):
    results = make_results(synthetic=(HOSTILE,), note=HOSTILE)
    results["real"]["label"] = HOSTILE
    results["metrics"][0]["name"] = HOSTILE
    manifest = make_manifest()
    manifest["argv"].append(HOSTILE)
    manifest["fingerprint"] = HOSTILE
    page = html.render(results, manifest, [(HOSTILE, HOSTILE, HOSTILE, images[0][3])])
    assert "<script" not in page and "alert(1)</script>" not in page
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"
    assert page.count(escaped) >= 10  # title, corpora, tables, notes, figure, provenance, manifest JSON
    assert f"<title>synthgap report: {escaped} vs {escaped}</title>" in page
    assert 'id="fig-script-alert-1-script-co"' in page  # an image name becomes a safe id


def test_deterministic(images):
    first = html.render(make_results(), make_manifest(), images)
    assert html.render(copy.deepcopy(make_results()), copy.deepcopy(make_manifest()), list(images)) == first
    assert html.render(make_results(), make_manifest(), images[::-1]) != first  # figures keep the order given


def test_self_contained(images):
    page = html.render(make_results(), make_manifest(), images)
    assert not re.search(r"""(?:src|href|action|poster|srcset)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", page, re.I)
    assert not re.search(r"https?://", page) and "@import" not in page and "url(" not in page
    assert "<link" not in page and "<script" not in page and "<iframe" not in page
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', page))
    assert all(s.startswith("data:image/png;base64,") for s in re.findall(r'src="([^"]*)"', page))


def test_png_size_and_duplicate_figure_names(images):
    assert html.png_size(images[0][3]) == (480, 240) and html.png_size(b"not a png") is None
    page = html.render(make_results(), None, [images[0], images[0]])
    assert 'id="fig-embedding-ratios"' in page and 'id="fig-embedding-ratios-2"' in page
    assert 'width="480" height="240"' in page  # 80 dpi: shown at its pixel size
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 2), dpi=240)
    fig.add_subplot().plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = buf.getvalue()
    assert html.png_size(data) == (960, 480) and round(html.png_dpi(data)) == 240
    assert html.display_size(data) == (480, 240)  # a high-dpi figure shows at 120 CSS px per inch
    assert html.png_dpi(b"not a png") is None and html.display_size(b"") is None


def test_with_the_figures_module():
    figures = pytest.importorskip("synthgap.reports.figures")
    results = make_results()
    drawn = figures.draw(results)
    images = [(d.name, d.title, d.caption, figures.png(d)) for d in drawn]
    page = html.render(results, make_manifest(), images)
    assert page.count("<figure") == len(images) and all(html.png_size(i[3]) for i in images)


# --- the page in a real browser -------------------------------------------------------------------------------------


def _install_chromium() -> str:
    """Try apt-get (as root, unless SYNTHGAP_NO_APT=1); returns why it did not happen or what failed."""
    if os.environ.get("SYNTHGAP_NO_APT") == "1":
        return "SYNTHGAP_NO_APT=1"
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        return "not root with apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    deadline = time.monotonic() + 600
    tail = ""
    for cmd in (["apt-get", "install", "-y", "-q", "chromium"], ["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "chromium"]):
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True,
                                  timeout=max(1.0, deadline - time.monotonic()))
        except (subprocess.TimeoutExpired, OSError) as exc:
            return f"{' '.join(cmd)}: {exc}"
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        tail = f"{' '.join(cmd)} exited {done.returncode}: {tail[0]}"
        if CHROMIUM.exists():
            return ""
    return tail


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium driven by Playwright; installed with apt-get where missing and allowed, else skip."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (it comes with the [dev] extra: pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        why = _install_chromium()
        if not CHROMIUM.exists():
            pytest.skip(f"{CHROMIUM} not found and not installed ({why}); install Debian's chromium package")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser, path: Path):
    """The page loaded from file://, with what it logged: console errors, page errors, dialogs, every request URL."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = {"console": [], "errors": [], "dialogs": [], "requests": []}
    page.on("console", lambda m: log["console"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: log["errors"].append(str(e)))
    page.on("dialog", lambda d: (log["dialogs"].append(d.message), d.dismiss()))
    page.on("request", lambda r: log["requests"].append(r.url))
    page.goto(path.resolve().as_uri(), wait_until="load")
    return page, log


def image_states(page) -> list[dict]:
    """Every <img>: whether it finished loading and decoded to a real picture (broken ones are complete too)."""
    return page.eval_on_selector_all("img", """imgs => imgs.map(i => ({id: i.closest('figure') ? i.closest('figure').id
        : '', complete: i.complete, width: i.naturalWidth, loaded: i.complete && i.naturalWidth > 0}))""")


def not_loaded(page) -> list[str]:
    return [s["id"] for s in image_states(page) if not s["loaded"]]


def test_the_page_in_headless_chromium(browser, images, tmp_path):
    results = make_results(note=HOSTILE)
    path = tmp_path / "report.html"
    path.write_text(html.render(results, make_manifest(), images), encoding="utf-8")
    page, log = open_page(browser, path)
    try:
        assert log["console"] == [] and log["errors"] == [] and log["dialogs"] == []
        assert all(u.startswith(("file:", "data:")) for u in log["requests"]), log["requests"]
        states = image_states(page)
        assert len(states) == len(images) and not_loaded(page) == []
        assert all(s["complete"] and s["width"] > 0 for s in states)
        assert page.title() == "synthgap report: sharegpt vs templates, messy & co"
        assert page.inner_text("h1") == "synthgap report"
        assert page.locator("table.summary tbody tr").count() == len(results["metrics"])
        assert page.locator("section.family").count() == len(families(results))
        assert page.inner_text("#notes li") == HOSTILE  # shown as text, never run
        for img in page.locator("img").all():  # responsive: never wider than its figure
            assert img.evaluate("i => i.getBoundingClientRect().width <= i.parentElement.clientWidth")
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
    finally:
        page.close()
    data = shot.read_bytes()
    size = html.png_size(data)
    assert size is not None and size[0] == 1280 and size[1] > 2000 and len(data) > 50_000
    if os.environ.get("SYNTHGAP_SCREENSHOT_DIR"):
        folder = Path(os.environ["SYNTHGAP_SCREENSHOT_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, folder / "report.png")


def test_the_image_check_catches_a_broken_image(browser, images, tmp_path):
    good = images[0]
    page_text = html.render(make_results(), None, [good, ("not_png", "Not a PNG", "bytes", b"not a png at all"),
                                                   ("bad_base64", "Bad", "base64", good[3])])
    marker = 'id="fig-bad-base64">\n<img src="data:image/png;base64,'
    assert marker in page_text
    page_text = page_text.replace(marker, marker + "%%%not-base64%%%")
    path = tmp_path / "broken.html"
    path.write_text(page_text, encoding="utf-8")
    page, _ = open_page(browser, path)
    try:
        assert not_loaded(page) == ["fig-not-png", "fig-bad-base64"]
    finally:
        page.close()
