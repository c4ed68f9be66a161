"""What every browser test shares: Debian's Chromium through Playwright, where screenshots go, the desk
page, signing in, and what is left in Chinese after the switch to English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Protocol

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from tests.conftest import REPO

ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def ok(response: Any) -> Any:
    """The JSON of an API answer that must be 200 OK."""
    assert response.status_code == 200, f"{response.status_code}: {response.text}"
    return response.json()


# -- pages --------------------------------------------------------------------------------------

PASSWORD = "correct-horse-1"  # what tests.conftest's add_user gives every user unless told otherwise
FULL_HD: ViewportSize = {"width": 1920, "height": 1080}


@pytest.fixture
def desk(browser: Browser) -> Iterator[Page]:
    """A desk screen: a 1920×1080 page, Chinese first, in its own context (closed afterwards)."""
    context = browser.new_context(viewport=FULL_HD, locale="zh-CN")
    yield context.new_page()
    context.close()


class Served(Protocol):
    """Where the pages are: a ConsoleProcess, or anything else with the base URL."""

    @property
    def base(self) -> str: ...


def open_as(page: Page, console: Served, path: str, token: str) -> None:
    """Open ``path`` signed in with ``token`` as the session cookie, the way a paired wall or a
    signed-in browser holds it (no token is ever taken from a URL)."""
    page.context.add_cookies([{"name": "mcc_session", "value": token, "url": console.base}])
    page.goto(f"{console.base}{path}")


def sign_in(page: Page, console: Served, path: str, user: str, password: str = PASSWORD) -> None:
    """Open ``path``, get sent to the login page, sign in and wait until the browser is on the page
    itself: the whole URL, optionally with a #hash (a pattern ending in "/console" would also match
    "/login?next=/console")."""
    page.goto(f"{console.base}{path}")
    expect(page).to_have_url(re.compile("^" + re.escape(f"{console.base}/login?next=")))
    page.get_by_label("用户名").fill(user)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile("^" + re.escape(f"{console.base}{path}") + r"(#[^#]*)?$"))


# -- the language switch ------------------------------------------------------------------------

# CJK ideographs, and the CJK and full-width punctuation that only Chinese text uses.
CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")

# Every visible text node (shown, with a box) and every label set through an attribute (aria-label, placeholder, title),
# outside the site's data (marked translate="no") and outside an element in Chinese inside the page
# (the language switch, which names Chinese in Chinese). The page's own <html lang> does not count.
_UI_TEXT = """(attributes) => {
  const out = [];
  const shown = (el) => {  // rendered, not visibility:hidden, and with a box (a closed <select>'s options have none)
    if (!el.checkVisibility({visibilityProperty: true})) return false;
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  };
  const skip = (el) => !el || !!el.closest('[translate="no"], body [lang^="zh"]') || !shown(el);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    if (text && !skip(n.parentElement)) out.push(text);
  }
  if (!attributes) return out;
  for (const el of document.querySelectorAll("[aria-label], [placeholder], [title]")) {
    if (skip(el)) continue;
    for (const attr of ["aria-label", "placeholder", "title"]) {
      const value = el.getAttribute(attr);
      if (value && value.trim()) out.push(`${attr}: ${value.trim()}`);
    }
  }
  return out;
}"""


def ui_text(page: Page, attributes: bool = True) -> list[str]:
    """All visible label text outside the site's data and the language switch; with ``attributes``
    also the labels in aria-label, placeholder and title (as "aria-label: ...")."""
    texts: list[str] = page.evaluate(_UI_TEXT, attributes)
    return texts


def chinese_outside_site_data(page: Page, attributes: bool = True) -> list[str]:
    """The visible labels outside the site's data and the language switch that have Chinese in them:
    none may be left once the page is in English. ``attributes=False`` looks at the text only (an
    attribute label may name site data, as in "Delete floor plan 1号楼一层")."""
    return [text for text in ui_text(page, attributes) if CHINESE.search(text)]
