"""The web face in process (Starlette's TestClient): pages, review actions, approval, health
and metrics. Security has its own file (test_web_security.py); the browser, test_web_browser.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.models import DeliveryStatus
from bot.store.review import ListedDelivery
from tests.botenv import BASE_TIME, bot_env, run_main
from tests.conftest import FakeClock
from tests.webkit import login, make_app, web_client

S = DeliveryStatus


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(BASE_TIME.timestamp())


def _listed(app, status: str) -> list[ListedDelivery]:  # type: ignore[no-untyped-def]
    return app.store.review.list_deliveries([status])


def test_approval_makes_new_deliveries_wait_and_the_others_go(
    tmp_path: Path, clock: FakeClock
) -> None:
    app = make_app(tmp_path, clock, APPROVAL="twitter,instagram")
    try:
        report = app.engine.tick()
        by_platform = {(d.platform, d.status) for d in report.deliveries}
        assert ("facebook", "dry_run") in by_platform
        assert ("twitter", "pending_approval") in by_platform
        assert ("instagram", "pending_approval") in by_platform
        assert not {d for d in by_platform if d[0] == "twitter" and d[1] == "dry_run"}
        clock.advance(3600)
        again = app.engine.tick(poll=False)
        assert again.deliveries == []  # nothing waiting for approval was sent
    finally:
        app.close()


def test_approval_all_covers_every_platform(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock, APPROVAL="all")
    try:
        report = app.engine.tick()
        assert {d.status for d in report.deliveries} == {"pending_approval"}
    finally:
        app.close()


@pytest.mark.parametrize(("default", "outcome"), [("post", "dry_run"), ("skip", "skipped")])
def test_approval_timeout_settles_what_nobody_reviewed(
    tmp_path: Path, clock: FakeClock, default: str, outcome: str
) -> None:
    app = make_app(
        tmp_path, clock, APPROVAL="twitter", APPROVAL_TIMEOUT="2h", APPROVAL_DEFAULT=default
    )
    try:
        app.engine.tick()
        clock.advance(3600)
        app.engine.tick(poll=False)
        assert len(_listed(app, "pending_approval")) == 2  # one hour: still waiting
        clock.advance(3601)
        app.engine.tick(poll=False)
        assert _listed(app, "pending_approval") == []
        rows = [
            r for r in app.store.review.list_deliveries([outcome]) if r.row.platform == "twitter"
        ]
        assert len(rows) == 2
        events = app.store.stories.story_events(rows[0].row.story_id)
        assert any("APPROVAL_TIMEOUT" in (e.get("detail") or "") for e in events)
    finally:
        app.close()


def test_status_counts_posts_waiting_for_approval(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock, APPROVAL="twitter")
    try:
        app.engine.tick()
        env = _env_of(app, tmp_path)
    finally:
        app.close()
    shown = run_main(["status"], env, tmp_path)
    assert "waiting for approval: 2 (approve ID / reject ID" in shown.stdout
    data = run_main(["status", "--json"], env, tmp_path)
    import json

    assert json.loads(data.stdout)["platforms"]["twitter"]["pending_approval"] == 2


def test_approve_and_reject_on_the_command_line(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock, APPROVAL="twitter")
    try:
        app.engine.tick()
        first, second = (d.row.id for d in _listed(app, "pending_approval"))
        env = {k: v for k, v in _env_of(app, tmp_path).items()}
    finally:
        app.close()
    ok = run_main(["approve", str(first)], env, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert f"delivery {first} (twitter" in ok.stdout and "approved" in ok.stdout
    again = run_main(["approve", str(first)], env, tmp_path)
    assert again.returncode == 1
    assert "does not wait for approval (it is queued)" in again.stderr
    no = run_main(["reject", str(second)], env, tmp_path)
    assert no.returncode == 0 and "rejected" in no.stdout
    missing = run_main(["approve", "999"], env, tmp_path)
    assert missing.returncode == 1 and "no delivery 999" in missing.stderr
    assert "Traceback" not in missing.stderr + again.stderr
    app = make_app(tmp_path, clock, APPROVAL="twitter")
    try:
        assert [d.row.id for d in _listed(app, "queued")] == [first]
        rejected = _listed(app, "skipped")
        assert [d.row.id for d in rejected] == [second]
        assert "rejected in review" in (rejected[0].row.reason or "")
    finally:
        app.close()


def _env_of(app, tmp: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return bot_env(
        tmp,
        FEED_URLS=app.settings.feed_urls[0],
        DRY_RUN="true",
        PLATFORMS="twitter,facebook,instagram",
        APPROVAL="twitter",
    )


def test_pages_show_the_truth(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock, APPROVAL="twitter")
    try:
        app.engine.tick()
        with web_client(app) as (client, _ctx):
            login(client)
            home = client.get("/")
            assert home.status_code == 200
            assert "Story number 1" in home.text  # recent posts (facebook, instagram dry runs)
            assert "required" in home.text  # twitter needs approval
            app.store.platforms.pause_platform("instagram", "token refused", clock())
            paused_home = client.get("/").text
            assert "NOT HEALTHY" in paused_home
            assert "instagram is paused" in paused_home and "{&#39;kind&#39;" not in paused_home
            queue = client.get("/queue")
            assert "Waiting for approval (2)" in queue.text
            story_id = _listed(app, "pending_approval")[0].row.story_id
            story = client.get(f"/story/{story_id}")
            assert story.status_code == 200
            assert "weighted length" in story.text and "/ 280" in story.text
            assert "composed" in story.text and "pending_approval" in story.text
            assert client.get("/story/99999").status_code == 404
            settings = client.get("/settings")
            assert "WEB_PASSWORD" in settings.text and "set (hidden)" in settings.text
    finally:
        app.close()


def test_queue_actions_approve_edit_cancel_retry_post_now(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock, items=3, APPROVAL="twitter")
    try:
        app.engine.tick()
        kicked: list[int] = []
        with web_client(app) as (client, ctx):
            ctx.kick = lambda: kicked.append(1)
            csrf = login(client)
            a, b, c = (d.row.id for d in _listed(app, "pending_approval"))

            done = client.post(f"/deliveries/{a}/approve", data={"csrf": csrf})
            assert done.status_code == 200 and "Approved" in done.text
            assert app.store.deliveries.delivery(a).status == "queued"
            assert kicked == [1]
            again = client.post(f"/deliveries/{a}/approve", data={"csrf": csrf})
            assert "Nothing changed" in again.text

            long_text = "x" * 300
            refused = client.post(f"/deliveries/{b}/edit", data={"csrf": csrf, "text": long_text})
            assert refused.status_code == 422
            assert "not saved: the post cannot fit 280 (it needs 300 at least)" in refused.text
            assert "your text: weighted length 300 / 280" in refused.text
            assert long_text in refused.text  # the person's text is kept for fixing
            assert app.store.deliveries.delivery(b).post.text != long_text
            tags = client.post(
                f"/deliveries/{b}/edit", data={"csrf": csrf, "text": "New #a #b #c #d"}
            )
            assert tags.status_code == 422 and "more than 2 hashtags" in tags.text
            saved = client.post(f"/deliveries/{b}/edit", data={"csrf": csrf, "text": "Edited!"})
            assert saved.status_code == 200 and "Text saved" in saved.text
            assert app.store.deliveries.delivery(b).post.text == "Edited!"

            # Cancel is for what is queued; what waits for approval is rejected instead.
            refused_cancel = client.post(f"/deliveries/{c}/cancel", data={"csrf": csrf})
            assert "Nothing changed" in refused_cancel.text
            client.post(f"/deliveries/{c}/approve", data={"csrf": csrf})
            cancelled = client.post(f"/deliveries/{c}/cancel", data={"csrf": csrf})
            assert "Cancelled" in cancelled.text
            assert app.store.deliveries.delivery(c).status == "cancelled"
            assert (
                client.post(f"/deliveries/{c}/edit", data={"csrf": csrf, "text": "t"}).status_code
                == 422
            )

            hurry = client.post(f"/deliveries/{b}/post-now", data={"csrf": csrf})
            assert "Nothing changed" in hurry.text  # still waits for approval
            client.post(f"/deliveries/{b}/approve", data={"csrf": csrf})
            assert app.store.deliveries.delivery(b).status == "queued"
            kicked.clear()
            hurry = client.post(f"/deliveries/{b}/post-now", data={"csrf": csrf})
            assert "Due now" in hurry.text and kicked == [1]
        report = app.engine.tick(poll=False)
        sent = {d.delivery_id: d for d in report.deliveries}
        assert sent[b].status == "dry_run" and sent[b].text == "Edited!"
        assert c not in sent
    finally:
        app.close()


def test_retry_of_a_failed_delivery(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock, APPROVAL="twitter")
    try:
        app.engine.tick()
        target = _listed(app, "pending_approval")[0].row
        with app.store.deliveries._tx() as conn:  # a delivery that failed for good
            from sqlalchemy import update

            from bot.store.schema import deliveries

            conn.execute(
                update(deliveries).where(deliveries.c.id == target.id).values(status="failed")
            )
        with web_client(app) as (client, _ctx):
            csrf = login(client)
            assert "Failed (1)" in client.get("/queue").text
            done = client.post(f"/deliveries/{target.id}/retry", data={"csrf": csrf})
            assert "Queued again" in done.text
        assert app.store.deliveries.delivery(target.id).status == "queued"
    finally:
        app.close()


def test_healthz_is_status_json_and_503_when_unhealthy(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock)
    try:
        with web_client(app) as (client, _ctx):
            before = client.get("/healthz")  # never polled: not healthy
            assert before.status_code == 503
            assert before.json()["healthy"] is False
            app.engine.tick()
            ok = client.get("/healthz")
            assert ok.status_code == 200, ok.text
            assert ok.headers["content-type"].startswith("application/json")
            body = ok.json()
            assert set(body["platforms"]) == {"twitter", "facebook", "instagram"}
            app.store.platforms.pause_platform(
                "twitter", "token refused (fix TWITTER_ACCESS_TOKEN)", clock()
            )
            paused = client.get("/healthz")
            assert paused.status_code == 503
            body = paused.json()
            assert body["platforms"]["twitter"]["paused"] is True
            assert body["reasons"][0]["kind"] == "platform_paused"
            app.store.platforms.resume_platform("twitter", clock())
            assert client.get("/healthz").status_code == 200
            clock.advance(3 * 600 + 1)  # no poll within three intervals: stale
            stale = client.get("/healthz")
            assert stale.status_code == 503 and stale.json()["healthy"] is False
    finally:
        app.close()


def test_metrics_parse_as_prometheus_text(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock, APPROVAL="twitter")
    try:
        app.engine.tick()
        app.store.platforms.pause_platform("instagram", "refused", clock())
        with web_client(app) as (client, _ctx):
            answer = client.get("/metrics")  # no login
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/plain")
            families = {f.name: f for f in text_string_to_metric_families(answer.text)}
        assert all(name.startswith("feedbot_") for name in families)
        posts = {
            (s.labels["platform"], s.labels["status"]): s.value
            for s in families["feedbot_posts"].samples
        }
        assert posts[("twitter", "pending_approval")] == 2
        assert posts[("facebook", "dry_run")] == 2
        depth = {s.labels["platform"]: s.value for s in families["feedbot_queue_depth"].samples}
        assert depth["twitter"] == 2 and depth["facebook"] == 0
        paused = {
            s.labels["platform"]: s.value for s in families["feedbot_platform_paused"].samples
        }
        assert paused == {"twitter": 0, "facebook": 0, "instagram": 1}
        assert families["feedbot_poll_duration_seconds"].samples[0].value >= 0
        errors = families["feedbot_feed_errors"].samples
        assert [s.value for s in errors] == [0]
        spend = families["feedbot_spend_usd"].samples  # dry run: nothing charged
        assert [(s.labels["platform"], s.value) for s in spend] == [("twitter", 0.0)]
    finally:
        app.close()


def test_metrics_token_is_required_when_set(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock, METRICS_TOKEN="metrics-token-123456")
    try:
        with web_client(app) as (client, _ctx):
            assert client.get("/metrics").status_code == 401
            wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            ok = client.get("/metrics", headers={"Authorization": "Bearer metrics-token-123456"})
            assert ok.status_code == 200 and "feedbot_posts" in ok.text
    finally:
        app.close()


def test_every_web_variable_is_listed_and_documented() -> None:
    import re

    from bot.settings import PROJECT_ROOT
    from tests.envvars import ALL_VARIABLES

    source = (PROJECT_ROOT / "bot/settings_web.py").read_text()
    read = set(re.findall(r"\"([A-Z][A-Z0-9_]{3,})\"", source)) | {"PORT"}
    example = (PROJECT_ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, flags=re.M))
    readme = (PROJECT_ROOT / "README.md").read_text()
    for name in read:
        assert name in ALL_VARIABLES, name
        assert name in documented, name
        assert f"`{name}`" in readme, name


def test_docker_health_check_script_reads_healthz(tmp_path: Path, clock: FakeClock) -> None:
    """bot/healthcheck.py (the Dockerfile's HEALTHCHECK) exits 1 on 503, 0 on 200."""
    import subprocess
    import sys

    from bot.settings import PROJECT_ROOT
    from bot.web.server import BackgroundServer, make_server
    from bot.web.service import context_for
    from tests.test_web_browser import free_port

    app = make_app(tmp_path, clock)
    port = free_port()
    server = BackgroundServer(make_server(context_for(app), port=port))
    server.start()

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(PROJECT_ROOT / "bot" / "healthcheck.py")],
            env={"PATH": "/usr/bin:/bin", "WEB_PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    try:
        never = check()
        assert never.returncode == 1 and '"healthy": false' in never.stdout
        app.engine.tick()
        assert check().returncode == 0
    finally:
        server.stop()
        app.close()
    gone = check()
    assert gone.returncode == 1 and "not reachable" in gone.stdout
    assert "Traceback" not in gone.stdout + gone.stderr


def test_metrics_show_x_spend_against_the_budget(tmp_path: Path, clock: FakeClock) -> None:
    from datetime import UTC, datetime

    app = make_app(tmp_path, clock, X_MONTHLY_BUDGET="5")
    month = datetime.fromtimestamp(clock(), UTC).strftime("%Y-%m")
    try:
        app.store.spend.record_spend("twitter", 1, 0.2, month, clock())
        app.store.spend.record_spend("twitter", 2, 0.015, month, clock())
        app.store.spend.record_spend("twitter", 3, 0.2, "2000-01", clock())  # another month
        with web_client(app) as (client, _ctx):
            text = client.get("/metrics").text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        [spent] = families["feedbot_spend_usd"].samples
        assert spent.labels == {"platform": "twitter", "month": month}
        assert spent.value == pytest.approx(0.215)
        [budget] = families["feedbot_budget_usd"].samples
        assert budget.value == 5.0
    finally:
        app.close()
