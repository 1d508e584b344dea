"""Mistakes fail loudly: a region the page has no element for is refused at
registration, and in dev mode an undefined template value is an error naming it and
its line (an HTML overlay on the page GET)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import SECRET, ProbePage

import mizulive


def test_a_region_without_its_element_is_refused_naming_it_and_the_page(views: Path) -> None:
    class NoLog(ProbePage):
        regions = {"main": "probe/main", "log": "probe/extra"}

    with mizulive.App(views=views, secret=SECRET) as app:
        with pytest.raises(mizulive.MizuliveError) as err:
            app.page("/x", NoLog)
        assert err.value.code == mizulive.ErrorCode.PAGE
        assert 'region "log" has no element with id="log" in pages/probe/index.html' in err.value.message
        # The page's template named as its file is the same page.
        named = type("Named", (ProbePage,), {"template": "pages/probe/index.html"})
        app.page("/named", named)


def test_dev_mode_names_an_undefined_value_on_the_page_get(serve: Any, tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "typo.html").write_text("<div data-lv>\n<p>{{ state.colums }}</p>\n</div>")

    class Typo(mizulive.Page):
        template = "typo"

        def mount(self, s: mizulive.Session) -> None:
            s.state = {"columns": 3}

    _, client = serve(Typo, route="/typo", views=tmp_path, dev=True)
    page = client.get("/typo")
    assert page.status == 500
    assert 'id="lv-error-overlay"' in page.text
    assert "undefined value state.colums (in pages/typo.html line 2)" in page.text
