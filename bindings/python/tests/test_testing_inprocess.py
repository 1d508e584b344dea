"""``mizulive.testing``'s in-process client: pages driven by selectors with no
server, errors that say what went wrong, pushes, and the ``live`` pytest fixture."""

from __future__ import annotations

import threading
from typing import Any, Iterator

import counter
import pytest
from conftest import SECRET, AppFactory, ProbePage

import mizulive
from mizulive import testing
from mizulive.testing import ElementNotFound, EventFailed, LivePage, TimedOut, UnexpectedPush

pytest_plugins = ["pytester"]


class Probe(ProbePage):
    """Counts clicks, saves the form's text, fails on purpose, redirects."""

    def mount(self, s: mizulive.Session) -> None:
        s.state = {"count": 0, "text": "", "extra": ""}
        s.subscribe("ticks")

    @mizulive.on("inc")
    def inc(self, s: mizulive.Session, e: mizulive.Event) -> None:
        s.state["count"] += e.int("by", 1)
        s.mark("main")

    @mizulive.on("save")
    def save(self, s: mizulive.Session, e: mizulive.Event) -> None:
        text = e.text("text")
        if text == "boom":
            raise mizulive.CallbackError("the text may not be boom")
        if text == "quiet":
            s.flash("saved quietly")  # shown by the next render; none yet
            return
        if text == "away":
            s.redirect("/other?from=probe")
            return
        s.state["text"] = text
        s.mark("main")

    def info(self, s: mizulive.Session, msg: Any) -> None:
        s.state["extra"] = msg["extra"]
        s.mark("extra")


@pytest.fixture
def app(make_app: AppFactory) -> mizulive.App:
    app = make_app(start=False, dev=True)
    app.page("/probe", Probe)
    app.page("/other", Probe)
    return app


def test_a_click_patches_the_region_as_a_browser_sees_it(app: mizulive.App) -> None:
    with app.test("/probe") as page:
        assert "count=0 " in page.region("main")
        page.click("[data-lv-click=inc]")
        page.click("#clicks button")
        assert "count=2 " in page.region("main")
        assert "count=2 " in page.text("#main")
        whole = page.html()
        assert whole.startswith("<!doctype html>") and "<title>probe</title>" in whole
        assert '<div id="main">count=2 ' in whole
        assert page.title == "probe"
        assert page.state == {"count": 2, "text": "", "extra": ""}


def test_submit_fills_the_fields_by_keyword_or_dict(app: mizulive.App) -> None:
    with testing.open(app, "/probe") as page:
        page.submit("#f", text="tea & <cake>")
        assert "text=tea &amp; &lt;cake&gt;" in page.region("main")
        page.submit("form#f", fields={"text": "milk"})
        assert page.state["text"] == "milk"
        with pytest.raises(ElementNotFound, match='no field named "titel"'):
            page.submit("#f", titel="x")


def test_a_typo_in_a_selector_names_it_and_what_the_page_offers(app: mizulive.App) -> None:
    with app.test("/probe") as page:
        with pytest.raises(AssertionError) as failed:
            page.click("[data-lv-click=incr]")
        assert isinstance(failed.value, ElementNotFound)
        message = str(failed.value)
        assert "[data-lv-click=incr]" in message and "matches no element" in message
        assert '"inc"' in message
        assert "count=0 " in page.region("main"), "nothing was sent"


def test_a_failing_handler_raises_event_failed_and_keeps_the_state(app: mizulive.App) -> None:
    with app.test("/probe") as page:
        page.submit("#f", text="kept")
        with pytest.raises(EventFailed) as failed:
            page.submit("#f", text="boom")
        assert failed.value.code == mizulive.ErrorCode.CALLBACK
        assert failed.value.reply_code == "host_error"
        assert "the text may not be boom" in failed.value.reply_message
        assert page.state["text"] == "kept"


def test_a_publish_is_seen_by_next_push_and_applied(app: mizulive.App) -> None:
    with app.test("/probe") as page:
        page.assert_no_push(within=0.05)
        app.publish("ticks", {"extra": "tick-1"})
        push = page.next_push(timeout=5)
        assert push["t"] == "patch" and "tick-1" in push["regions"]["extra"]
        assert "extra=tick-1" in page.region("extra")
        with pytest.raises(TimedOut, match="no push"):
            page.next_push(timeout=0.05)


def test_assert_no_push_fails_naming_what_arrived(app: mizulive.App) -> None:
    with app.test("/probe") as page:
        app.publish("ticks", {"extra": "late"})
        with pytest.raises(UnexpectedPush) as failed:
            page.assert_no_push(within=5)
        assert isinstance(failed.value, AssertionError)
        assert "late" in str(failed.value)


def test_a_redirect_is_followed_to_the_new_page(app: mizulive.App) -> None:
    with app.test("/probe") as page:
        assert page.path == "/probe"
        page.click("#clicks button")
        page.submit("#f", text="away")
        assert page.path == "/other?from=probe"
        assert page.next_push()["t"] == "redirect"
        assert page.state["count"] == 0, "a new session on the new page"
        page.click("#clicks button")
        assert "count=1 " in page.region("main")


def test_flash_reads_what_no_render_showed_yet(app: mizulive.App) -> None:
    with app.test("/probe") as page:
        assert page.flash == {}
        page.submit("#f", text="quiet")
        assert page.flash == {"info": "saved quietly"}
        page.click("#clicks button")
        assert "flash=saved quietly" in page.region("main")
        assert page.flash == {}


def test_a_typed_state_page_reads_its_fields(make_app: AppFactory) -> None:
    app = make_app(start=False, views=counter.VIEWS, secret=SECRET)
    counter.register(app)
    with app.test("/counter") as page:
        page.click("[data-lv-click=inc]")
        page.click("[data-lv-click=inc]")
        page.click("[data-lv-click=dec]")
        assert '<strong id="count">1</strong>' in page.region("stats")
        assert page.state == {"count": 1, "log": ["inc 1 → 1", "inc 1 → 2", "dec 1 → 1"]}
        typed = page.state_as(counter.CounterState)
        assert typed == counter.CounterState(count=1, log=["inc 1 → 1", "inc 1 → 2", "dec 1 → 1"])


def test_callbacks_run_in_python_while_a_click_waits(make_app: AppFactory) -> None:
    # The click waits in the library with the GIL released; the handler needs the GIL
    # on a library thread, and a test thread that holds a lock it waits on confirms
    # both run at once.
    entered = threading.Event()
    release = threading.Event()

    class Slow(ProbePage):
        def mount(self, s: mizulive.Session) -> None:
            s.state = {"count": 0}

        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            entered.set()
            assert release.wait(5), "the test thread never ran"
            s.state["count"] = 42
            s.mark("main")

    app = make_app(start=False)
    app.page("/slow", Slow)
    with app.test("/slow") as page:
        helper = threading.Thread(target=lambda: (entered.wait(5), release.set()))
        helper.start()
        page.click("[data-lv-click=inc]")
        helper.join(5)
        assert entered.is_set() and release.is_set()
        assert "count=42 " in page.region("main")


def test_the_page_refuses_use_from_a_callback(make_app: AppFactory) -> None:
    seen: list[BaseException] = []
    holder: list[LivePage] = []

    class Inner(ProbePage):
        def mount(self, s: mizulive.Session) -> None:
            s.state = {"count": 0}

        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            for use in (lambda: holder[0].region("main"), holder[0].close):
                try:
                    use()
                except mizulive.MizuliveError as err:
                    seen.append(err)
            s.state["count"] += 1
            s.mark("main")

    app = make_app(start=False)
    app.page("/inner", Inner)
    with app.test("/inner") as page:
        holder.append(page)
        page.click("[data-lv-click=inc]")
        assert len(seen) == 2
        for err in seen:
            assert isinstance(err, mizulive.MizuliveError) and err.code == mizulive.ErrorCode.REENTRANT
            assert "from a page callback" in str(err)
        assert not page.closed and "count=1 " in page.region("main"), "the page still works"


def test_close_is_idempotent_and_the_app_closes_open_pages(app: mizulive.App) -> None:
    page = app.test("/probe")
    other = app.test("/probe")
    page.close()
    page.close()
    assert page.closed
    with pytest.raises(mizulive.MizuliveError, match="closed"):
        page.click("#clicks button")
    app.close()
    assert other.closed


def test_an_unknown_page_fails_to_open_saying_so(app: mizulive.App) -> None:
    with pytest.raises(mizulive.MizuliveError, match="GET /nope answered 404"):
        app.test("/nope")


def test_the_live_fixture_opens_pages_of_the_app_fixture(pytester: pytest.Pytester, views: Any) -> None:
    pytester.makepyfile(
        f"""
        import pytest
        import mizulive

        class Count(mizulive.Page):
            template = "probe/index"
            regions = {{"main": "probe/main", "extra": "probe/extra"}}

            def mount(self, s):
                s.state = {{"count": 0}}

            def handle(self, s, e):
                s.state["count"] += 1
                s.mark("main")

        @pytest.fixture
        def app():
            with mizulive.App(views={str(views)!r}, secret={SECRET!r}) as app:
                app.page("/count", Count)
                yield app

        PAGES = []

        def test_clicks(live):
            page = live("/count")
            PAGES.append(page)
            page.click("[data-lv-click=inc]")
            assert live("/count").state == {{"count": 0}}
            assert page.state == {{"count": 1}}
            assert live.app.session_count == 2

        def test_closed_after(live):
            assert PAGES[0].closed
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_the_live_fixture_without_an_app_fixture_says_what_it_needs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(live):\n    live('/x')\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the live fixture needs an `app` fixture*"])


FIELDS_VIEWS = {
    "layouts/default.html": "<!doctype html><html><head><title>{{ title or 'fields' }}</title></head>"
    "<body>{{ content }}</body></html>",
    "pages/fields/index.html": """<div id="lv-root" data-lv>
<input id="agree" type="checkbox" name="agree" {{ lv.change("agree") }}>
<input id="q" name="q" value="tea" {{ lv.keydown("search", key="Enter") }} {{ lv.focus("in") }} {{ lv.blur("out") }}>
<button class="twin" {{ lv.click("a") }}>a</button><button class="twin" {{ lv.click("b") }}>b</button>
<div id="seen">{{ partial("fields/seen") }}</div>
</div>""",
    "partials/fields/seen.html": "{% for s in state.seen %}<i>{{ s }}</i>{% endfor %}",
}


class Fields(mizulive.Page):
    template = "fields/index"
    regions = {"seen": "fields/seen"}

    def mount(self, s: mizulive.Session) -> None:
        s.state = {"seen": []}

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        value = ",".join(e.form.get(e.field or "", [])) if e.type == "change" else e.values.get("value", "")
        s.state["seen"] = [*s.state["seen"], f"{e.type}:{e.name}:{value}:{e.key or ''}"]
        s.mark("seen")


@pytest.fixture
def fields_page() -> Iterator[LivePage]:
    with mizulive.App(views=FIELDS_VIEWS, secret=SECRET) as app:
        app.page("/fields", Fields)
        with app.test("/fields") as page:
            yield page


def test_change_key_focus_blur_and_event_send_what_a_browser_sends(fields_page: LivePage) -> None:
    page = fields_page
    page.change("#agree", True)
    page.change("#agree", False)
    page.key("#q", "Enter")
    page.focus("#q")
    page.blur("#q")
    page.event({"type": "click", "name": "by-hand", "values": {"value": "v"}})
    assert page.state["seen"] == [
        "change:agree:on:",
        "change:agree::",
        "keydown:search:tea:Enter",
        "focus:in:tea:",
        "blur:out:tea:",
        "click:by-hand:v:",
    ]
    assert "<i>click:by-hand:v:</i>" in page.region("seen")


def test_a_filtered_key_or_an_ambiguous_selector_is_refused_by_name(fields_page: LivePage) -> None:
    page = fields_page
    with pytest.raises(ElementNotFound, match='data-lv-key is "Enter"'):
        page.key("#q", "Escape")
    with pytest.raises(mizulive.MizuliveError, match="make it match one") as ambiguous:
        page.click(".twin")
    assert ambiguous.value.code == mizulive.ErrorCode.REQUEST
    with pytest.raises(ValueError, match="keydown"):
        page.key("#q", "Enter", type="keypress")
    assert page.state["seen"] == []


def test_visit_loads_another_page_in_the_same_browser(app: mizulive.App) -> None:
    with app.test("/probe") as page:
        page.visit("/other?x=1")
        assert page.path == "/other?x=1"
        page.click("#clicks button")
        assert page.state["count"] == 1


def test_cookies_and_headers_reach_the_auth_hook(app: mizulive.App) -> None:
    @app.auth
    def who(req: mizulive.Request) -> str | bool | None:
        if req.headers.get("x-block") == "yes":
            return False
        return req.cookies.get("user")

    with testing.open(app, "/probe", cookies={"user": "ann"}) as page:
        assert "user=ann" in page.region("main")
    with pytest.raises(mizulive.MizuliveError, match="403"):
        app.test("/probe", headers={"X-Block": "yes"})
