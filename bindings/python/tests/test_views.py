"""Views that ship with the program: package resources (a package folder, a zip on
``sys.path``), templates by name, and a views folder's dev-mode reload."""

from __future__ import annotations

import importlib
import importlib.resources
import os
import sys
import time
import zipfile
import zipimport
from pathlib import Path
from typing import Any

import pytest
from conftest import SECRET

import mizulive
from mizulive.testing import Client

VIEWS = {
    "layouts/default.html": '<html><head><title>{{ title or "pkg" }}</title></head>'
    '<body class="{{ "shipped" }}">{{ content }}</body></html>',
    "pages/poll/index.html": '<div id="lv-root" data-lv><h1>Poll</h1>'
    '<button {{ lv.click("vote") }}>vote</button><div id="votes">{{ partial("poll/votes") }}</div></div>',
    "partials/poll/votes.html": "votes={{ state.votes }}",
}


class Poll(mizulive.Page):
    template = "poll/index"
    regions = {"votes": "poll/votes"}

    def mount(self, s: mizulive.Session) -> None:
        s.state = {"votes": 0}

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        s.state["votes"] += 1
        s.mark("votes")


def serve_poll(views: Any) -> None:
    """Serves the poll from ``views`` and checks the page and a live event."""
    with mizulive.App(views=views, secret=SECRET, host_threads=1, io_threads=1) as app:
        app.page("/poll", Poll)
        app.start("127.0.0.1:0")
        client = Client(app.url)
        page = client.get("/poll")
        assert page.status == 200
        assert '<body class="shipped"><div id="lv-root" data-lv><h1>Poll</h1>' in page.text
        assert '<div id="votes">votes=0</div>' in page.text
        with client.live("/poll") as live:
            reply = live.event("vote")
            assert reply.ok
            assert reply.regions["votes"] == "votes=1"


def write_package(root: Path, name: str) -> None:
    """A package ``name`` under ``root`` with a views folder (and a file beside it)."""
    (root / name).mkdir()
    (root / name / "__init__.py").write_text("")
    for rel, text in {**VIEWS, "README.md": "not a template"}.items():
        path = root / name / "views" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def import_from(monkeypatch: pytest.MonkeyPatch, entry: Path, name: str) -> Any:
    monkeypatch.syspath_prepend(str(entry))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return importlib.import_module(name)


def test_views_from_a_zipped_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unique: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write_package(src, unique)
    archive = tmp_path / "app.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(src).as_posix())
    module = import_from(monkeypatch, archive, unique)
    assert isinstance(module.__loader__, zipimport.zipimporter)
    views = importlib.resources.files(unique) / "views"
    assert not isinstance(views, os.PathLike)  # no folder on disk to hand over
    serve_poll(views)


def test_views_from_a_package_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unique: str) -> None:
    write_package(tmp_path, unique)
    import_from(monkeypatch, tmp_path, unique)
    serve_poll(importlib.resources.files(unique) / "views")


def test_views_by_name() -> None:
    serve_poll(dict(VIEWS))


def test_bad_views_name_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(mizulive.MizuliveError, match=r'"pages/\.\./secret\.html"') as err:
        mizulive.App(views={"pages/../secret.html": "x"}, secret=SECRET)
    assert err.value.code == mizulive.ErrorCode.CONFIG
    with pytest.raises(mizulive.MizuliveError, match="does not exist"):
        mizulive.App(views=tmp_path / "missing", secret=SECRET)
    with pytest.raises(TypeError, match="not int"):
        mizulive.App(views=3, secret=SECRET)  # type: ignore[arg-type]

    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("empty/README.md", "no views here")
        zf.writestr("latin1/pages/a.html", "caf\xe9".encode("latin-1"))
    with pytest.raises(mizulive.MizuliveError, match="has no layouts/, pages/, partials/ folder"):
        mizulive.App(views=zipfile.Path(archive, "empty/"), secret=SECRET)
    with pytest.raises(mizulive.MizuliveError, match=r"pages/a\.html is not UTF-8"):
        mizulive.App(views=zipfile.Path(archive, "latin1/"), secret=SECRET)


def test_dev_mode_reloads_a_package_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unique: str) -> None:
    write_package(tmp_path, unique)
    import_from(monkeypatch, tmp_path, unique)
    views = importlib.resources.files(unique) / "views"
    with mizulive.App(views=views, dev=True, secret=SECRET) as app:
        assert app.render("partials/poll/votes.html", {"state": {"votes": 1}}) == "votes=1"
        edited = tmp_path / unique / "views" / "partials" / "poll" / "votes.html"
        edited.write_text("{{ state.votes }} votes")
        later = time.time() + 10  # a newer mtime than the first render saw, without waiting
        os.utime(edited, (later, later))
        assert app.render("partials/poll/votes.html", {"state": {"votes": 2}}) == "2 votes"


@pytest.fixture
def unique(request: pytest.FixtureRequest) -> str:
    """A package name no other test imports."""
    return f"views_pkg_{request.node.name.removeprefix('test_')}_{os.getpid()}"
