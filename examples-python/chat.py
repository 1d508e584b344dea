"""mizulive chat: rooms at /rooms/{room}, messages through pub/sub, who is here.

Every room is a pub/sub topic. Sending a message publishes it; every session in the
room (the sender's too) gets it in ``info`` and re-renders its message list. The
presence list is kept in this process: a session joins it when it mounts and leaves
it when it closes (its browser did not come back within the grace period, or the
server stops), and each change is published to the room. The send and rename forms
are ``lv.form`` forms, so the chat works with JavaScript off too.

    python3 examples-python/chat.py    (listens on $MIZULIVE_ADDR, default 127.0.0.1:3000)
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import deque
from pathlib import Path
from typing import Any

import mizulive

VIEWS = Path(__file__).resolve().parent / "views"

HISTORY = 50
MAX_TEXT = 500
MAX_NAME = 24
ROOMS_TOPIC = "chat:rooms"


def room_topic(room: str) -> str:
    return f"chat:room:{room}"


def slug(text: str) -> str:
    """A room name fit for a URL path: lower-case letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:32]


class Directory:
    """Who is in which room, and each room's recent messages, for this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._members: dict[str, dict[str, str]] = {}
        self._history: dict[str, deque[dict[str, Any]]] = {}

    def join(self, room: str, session: str, name: str) -> None:
        with self._lock:
            self._members.setdefault(room, {})[session] = name

    def leave(self, room: str, session: str) -> None:
        with self._lock:
            members = self._members.get(room, {})
            members.pop(session, None)
            if not members:
                self._members.pop(room, None)

    def members(self, room: str) -> list[str]:
        with self._lock:
            return sorted(self._members.get(room, {}).values(), key=str.lower)

    def rooms(self) -> list[dict[str, Any]]:
        with self._lock:
            names = set(self._members) | {"lobby"}
            return [{"name": n, "members": len(self._members.get(n, {}))} for n in sorted(names)]

    def post(self, room: str, message: dict[str, Any]) -> None:
        with self._lock:
            self._history.setdefault(room, deque(maxlen=HISTORY)).append(message)

    def history(self, room: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._history.get(room, ()))


directory = Directory()


class Room(mizulive.Page):
    """One chat room: messages, members, a send form and a rename form."""

    template = "chat/room"
    regions = {"messages": "chat/messages", "members": "chat/members", "composer": "chat/composer"}

    def mount(self, s: mizulive.Session) -> None:
        room = s.params["room"]
        me = s.user_id or f"guest-{s.id[:4]}"
        s.state = {
            "room": room,
            "me": me,
            "draft": "",
            "error": None,
            "messages": directory.history(room),
            "members": [],
        }
        s.set_title(f"#{room} · mizulive chat")
        s.subscribe(room_topic(room))
        directory.join(room, s.id, me)
        s.state["members"] = directory.members(room)
        self._presence_changed(s, room)

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        state = s.state
        room = state["room"]
        if e.name == "send":
            text = e.text("text")
            if not text:
                self._refuse(s, "Type a message first.", text)
                return
            if len(text) > MAX_TEXT:
                self._refuse(s, f"Messages are at most {MAX_TEXT} characters.", text)
                return
            message = {"from": state["me"], "text": text}
            directory.post(room, message)
            s.publish(room_topic(room), {"kind": "message", **message})
            state["draft"], state["error"] = "", None
            s.mark("composer")
            s.focus("#send input[name=text]")
        elif e.name == "rename":
            name = e.text("name")
            if not name or len(name) > MAX_NAME:
                state["error"] = f"A name has 1 to {MAX_NAME} characters."
                s.mark("composer")
                return
            state["me"], state["error"] = name, None
            directory.join(room, s.id, name)
            s.mark("composer")
            self._presence_changed(s, room)
        else:
            raise mizulive.CallbackError(f"unknown event {e.name!r}")

    def info(self, s: mizulive.Session, msg: Any) -> None:
        state = s.state
        if s.topic == "mizulive:lagged":
            # The mailbox overflowed: reload what was missed.
            state["messages"] = directory.history(state["room"])
            state["members"] = directory.members(state["room"])
            s.mark("messages", "members")
        elif msg.get("kind") == "message":
            state["messages"] = [*state["messages"], {"from": msg["from"], "text": msg["text"]}][-HISTORY:]
            s.mark("messages")
            s.scroll("#messages", end=True)
        elif msg.get("kind") == "presence":
            state["members"] = directory.members(state["room"])
            s.mark("members")

    def close(self, s: mizulive.Session, reason: str) -> None:
        room = s.params["room"]
        directory.leave(room, s.id)
        self._presence_changed(s, room)

    @staticmethod
    def _refuse(s: mizulive.Session, error: str, draft: str) -> None:
        s.state["error"], s.state["draft"] = error, draft
        s.mark("composer")

    @staticmethod
    def _presence_changed(s: mizulive.Session, room: str) -> None:
        s.publish(room_topic(room), {"kind": "presence"})
        s.publish(ROOMS_TOPIC, {"kind": "rooms"})


class Lobby(mizulive.Page):
    """The list of rooms with who is in them, and a form to open any room."""

    template = "chat/lobby"
    regions = {"rooms": "chat/rooms", "join-error": "chat/join_error"}

    def mount(self, s: mizulive.Session) -> None:
        s.state = {"rooms": directory.rooms(), "draft": "", "error": None}
        s.subscribe(ROOMS_TOPIC)

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        if e.name != "join":
            raise mizulive.CallbackError(f"unknown event {e.name!r}")
        room = slug(e.text("room"))
        if not room:
            s.state["error"] = "Name a room: letters, digits and dashes."
            s.state["draft"] = e.text("room")
            s.mark("join-error")
            return
        # A full load: it also ends a no-JS post with a 303 to the room.
        s.redirect(f"/rooms/{room}")

    def info(self, s: mizulive.Session, msg: Any) -> None:
        s.state["rooms"] = directory.rooms()
        s.mark("rooms")


def register(app: mizulive.App) -> None:
    """Adds the chat's pages to ``app``."""
    app.page("/rooms", Lobby)
    app.page("/rooms/{room}", Room)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = mizulive.App(views=VIEWS, dev=bool(os.environ.get("MIZULIVE_DEV")))
    register(app)
    app.page("/", Lobby)
    app.run(banner="chat listening on {url}/rooms/lobby")


if __name__ == "__main__":
    main()
