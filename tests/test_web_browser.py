"""The web face in a real browser: Debian's headless Chromium driven by Selenium against a real
`run` process (worker and web face in one) posting to the fake X and Facebook.

A person logs in, sees the queue, approves a pending post and sees it published on the fake
platform, edits a text over the limit and sees the error, cancels one. Screenshots are saved
under artifacts/screenshots/ (or $TEST_ARTIFACTS) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.settings import PROJECT_ROOT
from tests.botenv import Item, write_feed
from tests.fakes.platform_server import FakePlatformServer
from tests.test_cli_post import platform_env
from tests.test_worker import Proc
from tests.webkit import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", PROJECT_ROOT / "artifacts")) / "screenshots"


def _need_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if not missing:
        return
    why = (
        f"headless Chromium is not installed ({', '.join(missing)}): "
        "apt-get install chromium chromium-driver"
    )
    if os.environ.get("CI"):
        pytest.fail(f"browser tests are required in CI: {why}")
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def browser() -> Iterator[Any]:
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="feedbot-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1400",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def shot(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def wait_for(predicate: Any, timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_a_person_reviews_the_queue_in_chromium(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with FakePlatformServer() as server:
        feed = write_feed(tmp_path / "feed.xml", [Item(n, image=False) for n in (1, 2, 3)])
        env = platform_env(
            server,
            tmp_path,
            feed,
            PLATFORMS="twitter",
            APPROVAL="twitter",
            POST_SPACING="1h",  # a second approved post waits, queued, and can be cancelled
            WEB_PORT=str(port),
            WEB_PASSWORD=PASSWORD,
            POLL_INTERVAL="1h",
        )
        proc = Proc(["run"], env, tmp_path)
        try:
            assert proc.wait_for(lambda ls: any("poll finished" in x for x in ls), 60), "".join(
                proc.lines
            )
            assert any("web face listening" in x for x in proc.lines)
            assert server.tweets == []  # X waits for approval

            # Log in: the queue page sends a stranger to the login form first.
            browser.get(f"{base}/queue")
            assert "/login" in browser.current_url
            shot(browser, "01-login")
            browser.find_element(By.ID, "password").send_keys("wrong password!")
            browser.find_element(By.ID, "login-button").click()
            wait_for(lambda: browser.find_elements(By.ID, "login-error"), what="login error")
            browser.find_element(By.ID, "password").send_keys(PASSWORD)
            browser.find_element(By.ID, "login-button").click()
            wait_for(lambda: "Waiting for approval (3)" in browser.page_source, what="the queue")
            shot(browser, "02-queue")
            ids = [
                int(a.get_attribute("id")[1:])
                for a in browser.find_elements(By.CSS_SELECTOR, "#pending article.delivery")
            ]
            assert len(ids) == 3
            first, second, third = ids

            # Approve one: the worker is woken and it goes out on the fake X in seconds.
            started = time.monotonic()
            browser.find_element(By.CSS_SELECTOR, f"#d{first} button[data-action=approve]").click()
            wait_for(lambda: "Approved" in browser.page_source, what="the approval message")
            wait_for(lambda: len(server.tweets) == 1, timeout=15, what="the tweet")
            print(f"approve-to-published: {time.monotonic() - started:.2f} s")
            tweet = server.tweets[0]
            browser.get(f"{base}/")
            wait_for(lambda: tweet["id"] in browser.page_source, what="the live link")
            shot(browser, "03-overview-published")

            # Edit a text over the limit: the server refuses it and says why.
            browser.get(f"{base}/queue")
            area = browser.find_element(By.CSS_SELECTOR, f"#d{second} textarea")
            area.clear()
            area.send_keys("Too long " * 40)
            browser.find_element(By.CSS_SELECTOR, f"#d{second} button[name=save]").click()
            error = wait_for(
                lambda: browser.find_elements(By.ID, f"edit-error-{second}"), what="edit error"
            )
            assert "not saved: the post cannot fit 280" in error[0].text
            shot(browser, "04-edit-over-limit")

            # Approve another: POST_SPACING holds it in the queue. Cancel it: never posted.
            browser.get(f"{base}/queue")
            browser.find_element(By.CSS_SELECTOR, f"#d{third} button[data-action=approve]").click()
            wait_for(lambda: "Approved" in browser.page_source, what="the second approval")
            queued = browser.find_elements(By.CSS_SELECTOR, f"#waiting #d{third}")
            assert queued, "the approved post is not listed as queued"
            shot(browser, "05-queued-by-spacing")
            browser.find_element(By.CSS_SELECTOR, f"#d{third} button[data-action=cancel]").click()
            wait_for(lambda: "Cancelled" in browser.page_source, what="the cancel message")
            assert not browser.find_elements(By.ID, f"d{third}")
            assert "Waiting for approval (1)" in browser.page_source
            shot(browser, "06-cancelled")
            logs = browser.get_log("browser") if hasattr(browser, "get_log") else []
            assert not [e for e in logs if "Content Security Policy" in e.get("message", "")]
        finally:
            code, _elapsed = proc.stop()
        assert code == 0
        assert len(server.tweets) == 1  # only the approved one
        assert PASSWORD not in "".join(proc.lines)
