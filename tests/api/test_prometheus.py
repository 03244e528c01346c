"""GET /metrics (api/telemetry.py), in-process (tests/support/inproc.py): exact counters after a
few calls of each family, the gauges while calls run, the admin token, `metrics=off`; then
docs/metrics.md's scrape config, queries and rules on a real Prometheus (Debian's) scraping
a real server. The Ray ingress's /metrics is checked in tests/ray/test_ray.py."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from humancut import Settings, __version__
from humancut.api import create_app
from humancut.bench.servers import http_status
from humancut.errors import ConfigError
from humancut.settings import SettingError
from tests.support.checks import assert_error
from tests.support.images import encode, landscape, photo
from tests.support.inproc import EllipseModel, RedModel, serving
from tests.support.server import HOST, ROUTE, Server, free_port

METRICS_DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"

pytestmark = pytest.mark.anyio


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def scrape(client: httpx.AsyncClient, **headers: str) -> dict:
    resp = await client.get("/metrics", headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=")
    return samples(resp.text)


def calls(m: dict, family: str, outcome: str) -> float:
    return m.get(("humancut_requests_total", (("family", family), ("outcome", outcome))), 0)


async def test_counters_after_a_few_calls_of_each_family(tmp_path):
    """RedModel: the red box of `photo()` is a person, the landscape has no one in it."""
    async with serving(tmp_path, RedModel()) as app:
        red = photo()
        key = app.new_key(credits=2)
        assert (await app.post(key, red)).status_code == 200
        removebg = await app.client.post("/v1.0/removebg", headers={"X-Api-Key": key},
                                         files={"image_file": ("a.png", red)})
        assert removebg.status_code == 200, removebg.text
        assert_error(await app.post(key, red), 429, "ERROR_NOT_ENOUGH_CREDITS")
        assert_error(await app.post("hc_nope", red), 401, "ERROR_APPLICATIONS_NOT_EXISTS")
        assert_error(await app.post(app.new_key(), b"GIF89a...."), 415,
                     "UNSUPPORTED_FILE_TYPES")
        assert_error(await app.post(app.new_key(), encode(landscape(), "JPEG")), 422,
                     "ERROR_NO_RECOGNITION_TARGET_DETECTED")
        assert (await app.client.get("/healthz")).status_code == 200  # not a cut call

        m = await scrape(app.client)
        got = {(dict(labels)["family"], dict(labels)["outcome"]): value
               for (name, labels), value in m.items() if name == "humancut_requests_total"}
        # every family x outcome is there from the start (so ratios are 0, not missing)
        assert ("removebg", "busy") in got and ("ailab", "processing_failed") in got
        assert {k: v for k, v in got.items() if v} == {
            ("ailab", "ok"): 1, ("removebg", "ok"): 1, ("ailab", "no_credits"): 1,
            ("ailab", "unknown_key"): 1, ("ailab", "unsupported_type"): 1,
            ("ailab", "no_person"): 1}
        duration = "humancut_request_duration_seconds_count"
        assert m[(duration, (("family", "ailab"),))] == 5
        assert m[(duration, (("family", "removebg"),))] == 1
        assert m[("humancut_model_duration_seconds_count", ())] == 2  # the two successes
        assert m[("humancut_credits_charged_total", ())] == 2
        assert app.credits(key) == 0  # ... the key's two
        assert m[("humancut_in_flight", ())] == 0 and m[("humancut_queue_depth", ())] == 0
        info = (("model", "rvm_mobilenetv3"), ("preset", "balanced"), ("version", __version__))
        assert m[("humancut_build_info", info)] == 1


async def test_in_flight_and_queue_depth_while_calls_run(tmp_path, jpeg):
    """One worker, a slow stand-in model, three calls: one runs, two wait."""
    async with serving(tmp_path, EllipseModel(delay=1.0), workers=1) as app:
        key = app.new_key()
        posts = [asyncio.create_task(app.post(key, jpeg)) for _ in range(3)]
        for _ in range(200):
            m = await scrape(app.client)
            if m[("humancut_queue_depth", ())] == 2:
                break
            await asyncio.sleep(0.02)
        assert m[("humancut_in_flight", ())] == 3 and m[("humancut_queue_depth", ())] == 2
        assert [r.status_code for r in await asyncio.gather(*posts)] == [200] * 3
        m = await scrape(app.client)
        assert m[("humancut_in_flight", ())] == 0 and m[("humancut_queue_depth", ())] == 0
        assert calls(m, "ailab", "ok") == 3


async def test_an_admin_token_guards_metrics(tmp_path, jpeg):
    async with serving(tmp_path, admin_token="s3cret-token") as app:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"},
                        {"Authorization": "Basic s3cret-token"}):
            resp = await app.client.get("/metrics", headers=headers)
            assert_error(resp, 401, "ERROR_APPLICATIONS_NOT_EXISTS")
            assert resp.headers["www-authenticate"].startswith("Bearer")
            assert "humancut_" not in resp.text
        assert (await app.post(app.new_key(), jpeg)).status_code == 200
        m = await scrape(app.client, Authorization="Bearer s3cret-token")
        assert calls(m, "ailab", "ok") == 1
        assert (await app.client.get("/healthz")).status_code == 200  # still open
    token_file = tmp_path / "admin-token"
    token_file.write_text("from-a-file\n")
    async with serving(tmp_path, admin_token_file=token_file) as app:
        assert (await app.client.get("/metrics")).status_code == 401
        await scrape(app.client, Authorization="Bearer from-a-file")


async def test_metrics_off_removes_the_route(tmp_path):
    async with serving(tmp_path, metrics="off") as app:
        assert_error(await app.client.get("/metrics"), 404, "ERROR_RESOURCE_NOT_FOUND")
        assert (await app.client.get("/healthz")).status_code == 200


def test_bad_metrics_settings_stop_the_app_before_it_serves(tmp_path):
    base = Settings(data_dir=tmp_path / "data")
    # a choice, refused when the settings are made (humancut.settings), named as written
    with pytest.raises(SettingError, match="metrics='maybe': must be one of on, off"):
        base.replace(metrics="maybe")
    with pytest.raises(SettingError, match="HUMANCUT_METRICS='maybe': must be one of on, off"):
        Settings.from_env({"HUMANCUT_METRICS": "maybe"})
    with pytest.raises(ConfigError, match="HUMANCUT_ADMIN_TOKEN_FILE=.*missing: No such file"):
        create_app(base.replace(admin_token_file=tmp_path / "missing"))
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="HUMANCUT_ADMIN_TOKEN_FILE=.*empty is empty"):
        create_app(base.replace(admin_token_file=tmp_path / "empty"))


def test_settings_from_the_environment(tmp_path):
    s = Settings.from_env({"HUMANCUT_METRICS": "off", "HUMANCUT_ADMIN_TOKEN": "t",
                           "HUMANCUT_ADMIN_TOKEN_FILE": str(tmp_path / "f")})
    assert (s.metrics, s.admin_token, s.admin_token_file) == ("off", "t", tmp_path / "f")


async def test_two_apps_in_one_process_count_apart(tmp_path, jpeg):
    async with serving(tmp_path / "a") as a, serving(tmp_path / "b") as b:
        assert (await a.post(a.new_key(), jpeg)).status_code == 200
        assert calls(await scrape(a.client), "ailab", "ok") == 1
        assert calls(await scrape(b.client), "ailab", "ok") == 0


# ---- docs/metrics.md on a real Prometheus --------------------------------------------------

def doc_blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", METRICS_DOC.read_text(), re.S)


@pytest.mark.skipif(shutil.which("prometheus") is None or shutil.which("promtool") is None,
                    reason="Debian's prometheus is not installed (`make test` installs it "
                           "as root)")
def test_the_documented_scrape_config_queries_and_rules_on_a_real_prometheus(
        tmp_path, astronaut_bytes):
    token = "doc-admin-token"
    (tmp_path / "token").write_text(token)
    humancut = Server(tmp_path / "data", env={"HUMANCUT_ADMIN_TOKEN": token}).start()
    prom: subprocess.Popen[bytes] | None = None
    try:
        config = yaml.safe_load(doc_blocks("yaml")[0])
        job = config["scrape_configs"][0]
        job["scrape_interval"] = "1s"
        job["authorization"]["credentials_file"] = str(tmp_path / "token")
        job["static_configs"] = [{"targets": [f"{HOST}:{humancut.port}"]}]
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        rules = tmp_path / "rules.yml"
        rules.write_text(doc_blocks("yaml")[1])
        for check in (["check", "config", str(tmp_path / "prometheus.yml")],
                      ["check", "rules", str(rules)]):
            done = subprocess.run(["promtool", *check], capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr

        port = free_port()
        prom = subprocess.Popen(
            ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address={HOST}:{port}"],
            stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("wb"))
        api = f"http://{HOST}:{port}/api/v1/query"

        def query(expr: str) -> list[dict]:
            body = httpx.get(api, params={"query": expr}, timeout=10).json()
            assert body["status"] == "success", (expr, body)
            return body["data"]["result"]

        def wait_for(expr: str) -> list[dict]:
            deadline = time.monotonic() + 60
            while not (result := query(expr)):
                assert time.monotonic() < deadline, f"no answer to {expr}"
                time.sleep(0.5)
            return result

        while http_status(f"http://{HOST}:{port}/-/ready") != 200:
            assert prom.poll() is None, (tmp_path / "prometheus.log").read_text()
            time.sleep(0.3)
        wait_for('up{job="humancut"} == 1')  # scraped with the admin token
        key = humancut.create_key()
        for data in (astronaut_bytes, astronaut_bytes, b"GIF89a...."):
            httpx.post(humancut.url + ROUTE, headers={"ailabapi-api-key": key},
                       files={"image": ("a.jpg", data)}, timeout=60)
        wait_for('humancut_requests_total{outcome="unsupported_type"} == 1')
        time.sleep(2.5)  # a few more scrapes, for rate() and increase()

        answers = {expr: wait_for(expr) for expr in doc_blocks("promql")}
        assert len(answers) == 9
        values = {expr: float(result[0]["value"][1]) for expr, result in answers.items()}
        ok_rate = next(v for e, v in values.items() if e.startswith('sum(rate(humancut_requests_'
                                                                     'total{outcome="ok"}'))
        assert ok_rate > 0
        # One series per family; only the AILabTools family had calls (the others' NaN).
        p95 = next(float(r["value"][1]) for e, rs in answers.items()
                   if "request_duration_seconds_bucket" in e for r in rs
                   if r["metric"].get("family") == "ailab")
        assert 0 < p95 <= 60
        shares = next(r for e, r in answers.items() if e.startswith("sum by (outcome)"))
        by_outcome = {r["metric"]["outcome"]: float(r["value"][1]) for r in shares}
        assert by_outcome["ok"] == pytest.approx(2 / 3) and \
            by_outcome["unsupported_type"] == pytest.approx(1 / 3)
    finally:
        if prom is not None:
            prom.terminate()
            prom.wait(30)
        humancut.stop()
