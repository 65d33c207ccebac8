"""The workbench end to end in a real headless Chromium (Playwright driving the system browser).

upload → scan → filter → review three leads by keyboard → restart the server → decisions still there →
rescan the same export → decisions carried over → export the workbook with decisions; the playground:
break a rule (inline error), fix it, see hits gained and lost on a corpus.

Never downloads a browser: uses /usr/bin/chromium (or SCREENER_CHROMIUM); skipped, with the reason,
when there is none. SCREENER_SCREENSHOTS=DIR also writes the page screenshots there (docs/ uses them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from webutil import EXTRA, RULES, SCRIPT_TITLE, free_port, write_export

CHROMIUM = os.environ.get("SCREENER_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[test]')")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary (apt-get install -y chromium, or set SCREENER_CHROMIUM)"
)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip


class Server:
    """`screener serve` in a child process on 127.0.0.1 (so a restart is a real one)."""

    def __init__(self, workspace: Path, port: int):
        self.workspace, self.port, self.proc = workspace, port, None
        self.base = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        cmd = [sys.executable, "-m", "screener.cli", "serve", "--port", str(self.port),
               "--workspace", str(self.workspace), "--rules", str(RULES)]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stdout.read().decode("utf-8", "replace"))
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("screener serve did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def shot(page, name: str, tmp: Path) -> None:
    out = os.environ.get("SCREENER_SCREENSHOTS")
    path = Path(out) / f"{name}.png" if out else tmp / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=False)


def wait_scans_done(page, n: int) -> None:
    """The scans page reloads itself when a scan finishes; wait for ``n`` finished scans."""
    page.wait_for_function(
        f"document.querySelectorAll('#scans tr[data-status=\"done\"]').length >= {n}", timeout=120_000
    )


def review_counts(page) -> dict[str, int]:
    out = {}
    for tag in page.locator("p.summary a.tag").all():
        cls = next(c for c in tag.get_attribute("class").split() if c.startswith("review-"))[7:]
        out[cls] = int(tag.inner_text().split()[-1])
    return out


def test_investigator_and_analyst_flow(browser, tmp_path):
    export = write_export(tmp_path / "网剑行动导出.csv", EXTRA)
    server = Server(tmp_path / "ws", free_port())
    server.start()
    try:
        # bypass_csp: the test's own waits evaluate script, and escaping (not only the CSP) must stop the
        # <script> title
        ctx = browser.new_context(
            viewport={"width": 1360, "height": 900}, accept_downloads=True, locale="zh-CN", bypass_csp=True
        )
        page = ctx.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(server.base + "/")
        # upload → scan (progress polled by the page, which reloads when done)
        page.set_input_files("#upload-form input[type=file]", str(export))
        page.click("#upload-form button[type=submit]")
        wait_scans_done(page, 1)
        shot(page, "scans", tmp_path)
        page.click("#scans tr[data-scan='1'] a")
        assert page.locator("tr.lead").count() == 22
        # the <script> title is shown as text and never runs
        page.fill("#filters input[name=q]", "XSS1")
        page.click("#filters button[type=submit]")
        assert SCRIPT_TITLE.split("<img")[0] in page.locator("tr.lead td.title").inner_text()
        assert page.evaluate("window.__xss") is None and not dialogs
        # filter by category
        page.goto(server.base + "/scans/1/leads")
        page.select_option("#filters select[name=category]", "wildlife")
        page.click("#filters button[type=submit]")
        rows = page.locator("tr.lead")
        n_wildlife = rows.count()
        assert n_wildlife >= 3 and page.locator("#total").inner_text() == str(n_wildlife)
        shot(page, "leads", tmp_path)
        # review three leads from the keyboard on the lead page: 1 confirms, 2 dismisses, 3 marks 待核查;
        # each decision opens the next lead
        rows.first.locator("td.title a").click()
        page.fill("#reviewer", "张三")
        page.locator("#reviewer").dispatch_event("change")
        page.fill("#note", "已截图取证")
        shot(page, "lead", tmp_path)
        reviewed = []
        for key in ("1", "2", "3"):
            page.locator("body").click(position={"x": 5, "y": 200})  # focus out of the form fields
            reviewed.append(page.locator("article.lead-detail").get_attribute("data-row"))
            with page.expect_navigation():
                page.keyboard.press(key)
        assert len(set(reviewed)) == 3
        page.goto(server.base + "/scans/1/leads")
        before = review_counts(page)
        assert (before["confirmed"], before["dismissed"], before["pending"]) == (1, 1, 1)
        # restart the server: the decisions are in the workspace's database
        server.stop()
        server.start()
        page.goto(server.base + "/scans/1/leads")
        assert review_counts(page) == before
        page.goto(server.base + f"/scans/1/leads/{reviewed[0]}")
        assert page.locator("#review-state").inner_text() == "确认违规"
        assert "已截图取证" in page.locator("#history").inner_text() and "张三" in page.locator("#history").inner_text()
        # rescan the same export (picked from the workspace): the decisions carry over
        page.goto(server.base + "/scans")
        page.click("#pick-form button[type=submit]")
        wait_scans_done(page, 2)
        page.goto(server.base + "/scans/2/leads")
        after = review_counts(page)
        assert (after["confirmed"], after["dismissed"], after["pending"]) == (1, 1, 1)
        assert after.get("changed", 0) == 0
        # export the workbook with the decisions
        page.click("#export-form button[type=submit]")
        with page.expect_download() as dl:
            page.click("#dl-xlsx")
        xlsx = tmp_path / "report.xlsx"
        dl.value.save_as(xlsx)
        cases = list(load_workbook(xlsx)["典型案例"].values)
        header = list(cases[0])
        assert len(cases) == 2 and cases[1][header.index("审核结论")] == "确认违规"
        assert cases[1][header.index("审核人")] == "张三"
        # triage on the list: j moves down, 2 marks 误报 in place (fetch), without leaving the page
        page.goto(server.base + "/scans/2/leads?review=unreviewed")
        page.keyboard.press("j")
        second = page.locator("tr.lead.selected")
        assert second.get_attribute("data-row") == page.locator("tr.lead").nth(1).get_attribute("data-row")
        page.keyboard.press("2")
        page.wait_for_function("document.querySelectorAll('tr.lead td.review .review-dismissed').length === 1")
        assert page.locator("tr.lead").nth(2).get_attribute("class").split() == ["lead", "selected"]
        page.goto(server.base + "/scans/2/leads")
        assert review_counts(page)["dismissed"] == 2
        # rule health shows the decisions
        page.goto(server.base + "/rules/health")
        assert page.locator("#health tbody tr").count() >= 1
        shot(page, "rule-health", tmp_path)

        # the playground: break the rule, see the error inline, fix it, compare on the corpus
        page.goto(server.base + "/rules/playground?rule=WL001")
        editor = page.locator("#rule-yaml")
        original = editor.input_value()
        page.wait_for_function("document.getElementById('check-status').className === 'ok'")
        editor.fill(original.replace("severity: high", "severity: hgh"))
        page.wait_for_selector("#errors li.error")
        error = page.locator("#errors li.error").first.inner_text()
        line = original.splitlines().index("severity: high") + 1
        assert error.startswith(f"第 {line} 行") and "severity" in error
        assert page.locator("#rule-yaml.invalid").count() == 1
        editor.fill(
            original.replace("exclude: [象牙白, 象牙色, 象牙塔, 象牙签]", "exclude: [象牙色, 象牙塔, 象牙签, 象牙手镯]")
        )
        page.wait_for_function("document.getElementById('check-status').className === 'ok'")
        assert page.locator("#errors li").count() == 0
        assert page.locator("#examples li.fail").count() >= 1  # the miss example 象牙白T恤 now hits
        page.click("#run-corpus")
        page.wait_for_selector("#diff-summary")
        assert int(page.locator("#n-gained").inner_text()) >= 1 and int(page.locator("#n-lost").inner_text()) >= 1
        assert page.locator("#diff-gained mark.hit").count() >= 1 and page.locator("#diff-lost mark.hit").count() >= 1
        shot(page, "playground", tmp_path)
        assert page.evaluate("window.__xss") is None and not dialogs
        ctx.close()
    finally:
        server.stop()
