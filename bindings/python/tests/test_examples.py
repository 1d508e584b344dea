"""The chat, todo and gallery examples over real sockets, live and without JS."""

from __future__ import annotations

import itertools
import re
from typing import Iterator

import chat
import gallery
import pytest
import todo
from conftest import SECRET

import mizulive
from mizulive.testing import Client, LiveSession, ProtocolError

_rooms = itertools.count(1)


def fresh_room() -> str:
    """The chat's directory lives for the whole process: each test gets its own room."""
    return f"test-{next(_rooms)}"


@pytest.fixture
def chat_app() -> Iterator[mizulive.App]:
    with mizulive.App(views=chat.VIEWS, secret=SECRET, grace_ms=150) as app:
        chat.register(app)
        app.start("127.0.0.1:0")
        yield app


def members(html: str) -> list[str]:
    return re.findall(r"<li>([^<]*?)(?: \(you\))?</li>", html)


def wait_members(live: LiveSession, expected: int) -> list[str]:
    frame = live.wait_for(
        lambda f: (
            f.get("t") == "patch" and "members" in f["regions"] and f"Here now ({expected})" in f["regions"]["members"]
        ),
        what=f"a members patch with {expected} members",
    )
    return members(frame["regions"]["members"])


def test_chat_messages_reach_everyone_in_the_room(chat_app: mizulive.App) -> None:
    room = fresh_room()
    client = Client(chat_app.url)
    elsewhere = client.live(f"/rooms/{fresh_room()}")
    with elsewhere, client.live(f"/rooms/{room}") as ann, client.live(f"/rooms/{room}") as bob:
        assert len(wait_members(ann, 2)) == 2
        reply = ann.event("send", type="submit", form={"text": "  hello <b>room</b>  "})
        assert reply.ok
        # The field stays empty on the server; the browser resets the form on the reply,
        # then focuses the field.
        assert "composer" not in reply.regions
        assert reply.frame("command")["cmds"][0]["op"] == "focus"
        for live in (ann, bob):
            frame = live.wait_for(lambda f: f.get("t") == "patch" and "messages" in f["regions"])
            assert "<b>guest-" in frame["regions"]["messages"]
            assert "hello &lt;b&gt;room&lt;" in frame["regions"]["messages"]
        with pytest.raises(ProtocolError):
            elsewhere.wait_for(lambda f: f.get("t") == "patch" and "messages" in f["regions"], timeout=0.3)


def test_chat_refuses_an_empty_message_without_publishing(chat_app: mizulive.App) -> None:
    room = fresh_room()
    with Client(chat_app.url).live(f"/rooms/{room}") as ann:
        reply = ann.event("send", type="submit", form={"text": "   "})
        assert reply.ok
        assert "Type a message first." in reply.regions["composer"]
        assert "messages" not in reply.regions
    assert chat.directory.history(room) == []


def test_chat_presence_follows_joins_renames_and_departures(chat_app: mizulive.App) -> None:
    room = fresh_room()
    client = Client(chat_app.url)
    with client.live(f"/rooms/{room}") as ann:
        bob = client.live(f"/rooms/{room}")
        assert len(wait_members(ann, 2)) == 2
        assert bob.event("rename", type="submit", form={"name": "Bob"}).ok
        ann.wait_for(lambda f: f.get("t") == "patch" and "<li>Bob</li>" in f["regions"].get("members", ""))
        # Bob's browser goes away; after the grace period his session closes.
        bob.close()
        assert "Bob" not in wait_members(ann, 1)
    assert "Bob" not in chat.directory.members(room)


def test_chat_works_without_javascript(chat_app: mizulive.App) -> None:
    room = fresh_room()
    client = Client(chat_app.url)
    with Client(chat_app.url).live(f"/rooms/{room}") as watcher:
        page = client.get(f"/rooms/{room}")
        assert page.status == 200
        done = client.submit(page.form(id="send"), {"text": "posted without JS"})
        assert done.status == 303 and done.location == f"/rooms/{room}"
        after = client.get(f"/rooms/{room}")
        assert "posted without JS</li>" in after.text
        frame = watcher.wait_for(lambda f: f.get("t") == "patch" and "messages" in f["regions"])
        assert "posted without JS" in frame["regions"]["messages"]


def test_chat_lobby_opens_rooms_and_lists_them_live(chat_app: mizulive.App) -> None:
    client = Client(chat_app.url)
    with client.live("/rooms") as lobby:
        reply = lobby.event("join", type="submit", form={"room": "My Room!"})
        assert reply.frame("redirect")["to"] == "/rooms/my-room"
        reply = lobby.event("join", type="submit", form={"room": "!!!"})
        assert "Name a room" in reply.regions["join-error"]
        room = fresh_room()
        with client.live(f"/rooms/{room}"):
            lobby.wait_for(lambda f: f.get("t") == "patch" and f"#{room}</a>" in f["regions"].get("rooms", ""))
    page = client.get("/rooms")
    done = client.submit(page.form(id="join"), {"room": "No JS"})
    assert done.status == 303 and done.location == "/rooms/no-js"


class QuickTodo(todo.Todo):
    flash_seconds = 0.2


@pytest.fixture
def todo_client() -> Iterator[Client]:
    with mizulive.App(views=todo.VIEWS, secret=SECRET) as app:
        app.page("/todo", QuickTodo)
        app.start("127.0.0.1:0")
        yield Client(app.url)


def items(html: str) -> list[str]:
    return re.findall(r"<span>([^<]*)</span>", html)


def ids(html: str, event: str) -> list[str]:
    return re.findall(rf'data-lv-click="{event}" data-lv-value-id="(\d+)"', html)


def test_todo_validates_while_typing(todo_client: Client) -> None:
    with todo_client.live("/todo") as live:
        reply = live.event("validate", type="change", form={"title": "x" * 61}, field="title")
        assert reply.regions == {"error": "At most 60 characters (61 now)."}
        reply = live.event("validate", type="change", form={"title": "fine"}, field="title")
        assert reply.regions == {"error": ""}
        assert live.event("save", type="submit", form={"title": "milk"}).ok
        reply = live.event("validate", type="change", form={"title": "MILK"}, field="title")
        assert reply.regions["error"] == "That is already on the list."


def test_todo_saves_with_a_flash_that_a_timer_clears(todo_client: Client) -> None:
    with todo_client.live("/todo") as live:
        reply = live.event("save", type="submit", form={"title": ""})
        assert reply.regions == {"error": "A title is required."}
        reply = live.event("save", type="submit", form={"title": "  buy milk "})
        assert items(reply.regions["items"]) == ["buy milk"]
        assert "Saved “buy milk”." in reply.regions["flash"]
        assert 'value=""' in reply.regions["new"] and reply.regions["error"] == ""
        assert reply.frame("command")["cmds"] == [{"op": "focus", "selector": "#title"}]
        cleared = live.next("patch", timeout=5)
        assert cleared["regions"] == {"flash": ""}


def test_todo_toggles_and_deletes_by_value(todo_client: Client) -> None:
    with todo_client.live("/todo") as live:
        for title in ("one", "two", "three"):
            reply = live.event("save", type="submit", form={"title": title})
        html = reply.regions["items"]
        one, two, _ = ids(html, "delete")
        reply = live.event("toggle", values={"id": one})
        assert 'class="done"' in reply.regions["items"] and "1 of 3 done" in reply.regions["items"]
        reply = live.event("delete", values={"id": two})
        assert items(reply.regions["items"]) == ["one", "three"]
        assert "Deleted “two”." in reply.regions["flash"]
        reply = live.event("delete", values={"id": "999"})
        assert not reply.ok and reply.error["code"] == "host_error"


def test_todo_works_without_javascript(todo_client: Client) -> None:
    page = todo_client.get("/todo")
    done = todo_client.submit(page.form(id="new-todo"), {"title": "no js"})
    assert done.status == 303
    page = todo_client.get("/todo")
    assert items(page.text) == ["no js"] and "Saved “no js”." in page.text
    done = todo_client.submit(page.form(id="new-todo"), {"title": ""})
    page = todo_client.get("/todo")
    assert "A title is required." in page.text
    form = page.form(id="todo-list")
    [delete] = [b for b in form.buttons if b[1].startswith("delete?")]
    assert todo_client.submit(form, button=delete).status == 303
    page = todo_client.get("/todo")
    assert items(page.text) == [] and "Nothing to do." in page.text


def test_the_gallery_serves_every_example() -> None:
    with gallery.build(secret=SECRET) as app:
        app.start("127.0.0.1:0")
        client = Client(app.url)
        home = client.get("/")
        assert home.status == 200
        for href in re.findall(r'href="(/[^"]*)"', home.text):
            assert client.get(href).status == 200, href
        assert client.get("/rooms/lobby").status == 200
        with client.live("/counter") as live:
            assert live.event("inc", values={"by": 3}).ok
