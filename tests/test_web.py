"""API tests of the web app (httpx through FastAPI's TestClient): real simulations at a coarse grid."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from spinerelease import DISCLAIMER  # noqa: E402
from spinerelease.web import create_app  # noqa: E402
from spinerelease.web.jobs import CANCELLED, DONE, FAILED, JobCancelled, JobManager  # noqa: E402

BASE = "http://127.0.0.1"
FAST = {"spacing_mm": 4.0}

TOOL_JSON = {
    "name": "two-bumps",
    "description": "a test tool with two peaks",
    "base": {"width_mm": 120, "length_mm": 60, "height_mm": 20},
    "peaks": [
        {"name": "left", "x_mm": -30, "y_mm": 0, "height_mm": 60, "tip_radius_mm": 10},
        {"name": "right", "x_mm": 30, "y_mm": 0, "height_mm": 60, "tip_radius_mm": 10},
    ],
}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = create_app(
        history_db=tmp_path_factory.mktemp("hist") / "none.sqlite", min_spacing_mm=1.0, max_upload_bytes=200_000
    )
    with TestClient(app, base_url=BASE) as c:
        yield c


def strict_json(r):
    """Parse a response refusing NaN/Infinity (which browsers cannot parse)."""

    def bad(x):
        raise AssertionError(f"non-standard JSON constant {x}")

    return json.loads(r.text, parse_constant=bad)


# -- pages ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", "/compare", "/history", "/api"])
def test_every_page_shows_the_disclaimer(client, url):
    r = client.get(url)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Not medical advice" in r.text
    assert DISCLAIMER.split(",")[0] in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "http://" not in r.text.replace(BASE, "") and "https://" not in r.text  # no CDN, works offline


def test_static_assets_and_no_traversal(client):
    assert client.get("/static/common.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    for bad in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py"):
        r = client.get(bad)
        assert r.status_code == 404 or "create_app" not in r.text


def test_foreign_host_header_refused(client):
    assert client.get("/api/meta", headers={"host": "evil.example"}).status_code == 400


# -- metadata ---------------------------------------------------------------------------------------------------------


def test_meta_and_tools(client):
    m = client.get("/api/meta").json()
    assert m["levels"][0] == "T1" and m["levels"][-1] == "L5" and len(m["levels"]) == 17
    keys = [s["key"] for s in m["steps"]]
    assert keys == ["forearms", "check", "lie_back", "breathing", "leg_left", "leg_right"]
    assert m["disclaimer"] == DISCLAIMER
    tools = client.get("/api/tools").json()
    names = [t["id"] for t in tools]
    assert "pso-spine" in names and "pso-rite" in names and "foam-roller" in names
    spine = next(t for t in tools if t["id"] == "pso-spine")
    assert spine["builtin"] and "peak_spacing_mm" in (spine["parameters"] or {})


# -- simulate ---------------------------------------------------------------------------------------------------------


def test_simulate_pso_spine(client):
    r = client.post("/api/simulate", json={"spacing_mm": 2.0, "level": "T7"})
    assert r.status_code == 200, r.text
    d = strict_json(r)
    assert d["tool"]["name"] == "pso-spine" and len(d["tool"]["peaks"]) == 5 and len(d["peaks"]) == 5
    assert d["verdict"] in ("on muscle, within tolerance", "too much pressure", "peak on bone")
    # the contact carries the posture load (equilibrium), and the per-peak forces add up to the total
    assert d["summary"]["force_n"] == pytest.approx(d["load"]["force_n"], rel=0.02)
    assert sum(p["force_n"] for p in d["peaks"]) == pytest.approx(d["summary"]["force_n"], rel=0.02)
    assert 0 <= d["spinous_share"] <= 1 and d["max_threshold_ratio"] > 0
    assert d["summary"]["peak_pressure_kpa"] >= d["summary"]["mean_pressure_kpa"] > 0
    m = d["map"]
    assert m["spacing_mm"] == 2.0 and len(m["pressure_kpa"]) == m["ny"] and len(m["pressure_kpa"][0]) == m["nx"]
    assert max(max(row) for row in m["pressure_kpa"]) == pytest.approx(d["summary"]["peak_pressure_kpa"], abs=0.1)
    assert {v for row in m["region"] for v in row} <= set(range(10))
    assert d["outline"]["levels_mm"]["T7"] is not None
    assert d["advice"]["messages"] and isinstance(d["advice"]["messages"][0], str)


def test_simulate_more_support_less_force(client):
    lo = client.post("/api/simulate", json={**FAST, "forearm_support": 0.0, "advice": False}).json()
    hi = client.post("/api/simulate", json={**FAST, "forearm_support": 0.2, "advice": False}).json()
    assert hi["summary"]["force_n"] < lo["summary"]["force_n"]
    assert hi["advice"] is None


@pytest.mark.parametrize(
    "body, field",
    [
        ({"stature_cm": 500}, "stature_cm"),
        ({"mass_kg": -3}, "mass_kg"),
        ({"sex": "other"}, "sex"),
        ({"body_fat_pct": 80}, "body_fat_pct"),
        ({"level": "C3"}, "level"),
        ({"offset_x_mm": 400}, "offset_x_mm"),
        ({"forearm_support": 1.5}, "forearm_support"),
        ({"roll_deg": 90}, "roll_deg"),
        ({"step": "seated"}, "step"),
        ({"spacing_mm": 0.1}, "spacing_mm"),
        ({"tool": "../../etc/passwd"}, "tool"),
        ({"tool": "/tmp/x.stl"}, "tool"),
        ({"tool_params": {"peak_spacing_mm": 1e9}}, "tool_params.peak_spacing_mm"),
        ({"unknown_field": 1}, "unknown_field"),
        ({"stature_cm": "tall"}, "stature_cm"),
        ({"tissue_model": "jelly"}, "tissue_model"),
    ],
)
def test_simulate_rejects_bad_fields(client, body, field):
    r = client.post("/api/simulate", json={**FAST, **body})
    assert r.status_code == 422
    d = r.json()
    assert field in [e["field"] for e in d["errors"]]
    assert field in d["detail"] and "Traceback" not in r.text


def test_simulate_tissue_model(client):
    """Fat over muscle (the default) puts more of the load on the PSO-Spine's centre than one series modulus per
    column (docs/validation.md: the layered FEM agrees with the former)."""
    body = {**FAST, "advice": False}
    layers = client.post("/api/simulate", json=body).json()
    column = client.post("/api/simulate", json={**body, "tissue_model": "column"}).json()
    assert layers == client.post("/api/simulate", json={**body, "tissue_model": "layers"}).json()
    centre = {
        d: next(p["force_n"] for p in r["peaks"] if p["name"] == "centre") for d, r in (("l", layers), ("c", column))
    }
    assert centre["l"] > 1.3 * centre["c"]
    assert layers["config"]["tissue_model"] == "layers" and column["config"]["tissue_model"] == "column"


def test_simulate_rejects_nan_and_garbage(client):
    r = client.post("/api/simulate", content=b'{"stature_cm": NaN}', headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.post("/api/simulate", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"]


def test_library_input_errors_become_422(client):
    # every field is in range but the body-mass index is not: the library's InputError message is returned
    r = client.post("/api/simulate", json={**FAST, "stature_cm": 220, "mass_kg": 30})
    assert r.status_code == 422 and "body-mass index" in r.json()["detail"]
    r = client.post("/api/simulate", json={**FAST, "tool": "no-such-tool"})
    assert r.status_code == 422 and "unknown tool" in r.json()["detail"]
    r = client.post("/api/simulate", json={**FAST, "tool_params": {"no_such_param": 3}})
    assert r.status_code == 422 and "no_such_param" in r.json()["detail"]


def test_min_spacing_enforced():
    app = create_app(min_spacing_mm=3.0)
    with TestClient(app, base_url=BASE) as c:
        r = c.post("/api/simulate", json={"spacing_mm": 2.0})
        assert r.status_code == 422 and "at least 3 mm" in r.json()["detail"]


# -- compare ----------------------------------------------------------------------------------------------------------


def test_compare(client):
    r = client.post("/api/compare", json={**FAST, "tool_a": "pso-spine", "tool_b": "pso-rite"})
    assert r.status_code == 200, r.text
    d = strict_json(r)
    assert d["a"]["tool"]["name"] == "pso-spine" and d["b"]["tool"]["name"] == "pso-rite"
    assert len(d["claims"]) == 4 and all(isinstance(c["supported"], bool) and c["evidence"] for c in d["claims"])
    assert d["a"]["config"]["level"] == d["b"]["config"]["level"] == "T7"
    assert d["a"]["load"]["force_n"] == pytest.approx(d["b"]["load"]["force_n"], rel=0.05)


# -- jobs -------------------------------------------------------------------------------------------------------------


def test_simulate_job_runs_to_done(client):
    r = client.post("/api/jobs", json={"kind": "simulate", "config": {**FAST, "advice": False}})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] in ("queued", "running", "done")
    st = client.app.state.web.jobs.wait(job["id"], timeout_s=120)
    assert st["state"] == DONE, st
    got = client.get(f"/api/jobs/{job['id']}").json()
    assert got["progress"] == 1.0 and got["result"]["tool"]["name"] == "pso-spine"
    direct = client.post("/api/simulate", json={**FAST, "advice": False}).json()
    assert got["result"]["summary"]["force_n"] == pytest.approx(direct["summary"]["force_n"], rel=1e-9)


def test_protocol_job_with_breathing(client):
    r = client.post("/api/jobs", json={"kind": "protocol", "config": FAST, "breathing_samples": 3})
    assert r.status_code == 202, r.text
    st = client.app.state.web.jobs.wait(r.json()["id"], timeout_s=300)
    assert st["state"] == DONE, st
    res = st["result"]
    assert [s["step"] for s in res["steps"]] == ["forearms", "check", "lie_back", "breathing", "leg_left", "leg_right"]
    b = res["breathing"]
    assert len(b["t_s"]) == len(b["force_n"]) == len(b["lung_volume_l"]) == 3
    assert b["lung_volume_l"][0] == pytest.approx(0.0, abs=1e-9) and max(b["lung_volume_l"]) > 0
    assert res["lie_back"]["config"]["step"] == "lie_back"
    forces = {s["step"]: s["force_n"] for s in res["steps"]}
    assert forces["forearms"] < forces["lie_back"]  # 60 % held on the forearms


def test_job_validation_and_unknown_ids(client):
    r = client.post("/api/jobs", json={"kind": "explode", "config": {}})
    assert r.status_code == 422
    r = client.post("/api/jobs", json={"kind": "simulate", "config": {"mass_kg": 1000}})
    assert r.status_code == 422 and "mass_kg" in r.json()["detail"]
    r = client.post("/api/jobs", json={"kind": "compare", "config": {**FAST, "tool_b": "nope"}})
    assert r.status_code == 422 and "unknown tool" in r.json()["detail"]
    assert client.get("/api/jobs/0123456789abcdef").status_code == 404
    assert client.delete("/api/jobs/0123456789abcdef").status_code == 404
    assert client.get("/api/jobs/..%2f..%2fetc").status_code in (404, 422)
    assert client.get("/api/jobs/NOT-A-JOB").status_code == 422


def test_cancel_running_protocol_job(monkeypatch):
    """A running protocol job stops at the next step boundary; a queued one never starts."""
    import spinerelease.workflow as wf

    gate = threading.Event()
    entered = threading.Event()
    calls = []

    def fake_protocol(cfg, breathing_samples=12, progress=None):
        progress("forearms")
        entered.set()
        gate.wait(30)
        calls.append("after gate")
        progress("check")  # raises JobCancelled once the job was cancelled
        calls.append("not reached")
        raise AssertionError("the job should have stopped")

    monkeypatch.setattr(wf, "simulate_protocol", fake_protocol)
    app = create_app(job_workers=1)
    with TestClient(app, base_url=BASE) as c:
        a = c.post("/api/jobs", json={"kind": "protocol", "config": FAST}).json()
        b = c.post("/api/jobs", json={"kind": "simulate", "config": FAST}).json()
        assert entered.wait(30)
        running = c.get(f"/api/jobs/{a['id']}").json()
        assert running["state"] == "running" and 0 < running["progress"] < 1
        qb = c.delete(f"/api/jobs/{b['id']}").json()
        assert qb["state"] == CANCELLED  # queued behind a: cancelled before it started
        ca = c.delete(f"/api/jobs/{a['id']}").json()
        assert ca["state"] == "running" and "cancelling" in ca["message"]
        gate.set()
        st = app.state.web.jobs.wait(a["id"], timeout_s=30)
        assert st["state"] == CANCELLED and st["result"] is None
        assert calls == ["after gate"]


def test_job_manager_limits_and_errors():
    jm = JobManager(workers=1, max_active=1)
    gate = threading.Event()
    j = jm.submit("x", lambda rep: (gate.wait(30), {"ok": 1})[1])
    from spinerelease.web.jobs import TooManyJobs

    with pytest.raises(TooManyJobs):
        jm.submit("y", lambda rep: {})
    gate.set()
    assert jm.wait(j.id, 30)["result"] == {"ok": 1}
    from spinerelease.errors import InputError

    def bad(rep):
        raise InputError("stature must be at most 220 cm, got 300 cm")

    f = jm.wait(jm.submit("z", bad).id, 30)
    assert f["state"] == FAILED and f["error"].startswith("stature must be")

    def cancels(rep):
        raise JobCancelled

    assert jm.wait(jm.submit("c", cancels).id, 30)["state"] == CANCELLED
    jm.shutdown()


def test_too_many_jobs_is_429(monkeypatch):
    import spinerelease.workflow as wf

    gate = threading.Event()
    monkeypatch.setattr(wf, "simulate_protocol", lambda cfg, breathing_samples=12, progress=None: gate.wait(30))
    app = create_app(job_workers=1, max_active_jobs=1)
    with TestClient(app, base_url=BASE) as c:
        assert c.post("/api/jobs", json={"kind": "protocol", "config": FAST}).status_code == 202
        r = c.post("/api/jobs", json={"kind": "protocol", "config": FAST})
        assert r.status_code == 429 and "already queued or running" in r.json()["detail"]
        gate.set()


# -- uploads ----------------------------------------------------------------------------------------------------------


def test_upload_json_tool_and_simulate(client):
    state = client.app.state.web
    files = {"file": ("../../../../tmp/evil name.json", json.dumps(TOOL_JSON).encode(), "application/json")}
    r = client.post("/api/tools/upload", files=files)
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["id"].startswith("upload:") and len(t["id"]) == 7 + 32
    assert t["name"] == "two-bumps" and t["peaks"] == ["left", "right"] and t["size_mm"][0] == pytest.approx(120, abs=2)
    stored = list(state.uploads.root.iterdir())
    assert [p.name for p in stored] == [t["id"][7:] + ".json"]  # random name, inside the temp dir, not the client's
    assert "evil" not in stored[0].name
    assert any(x["id"] == t["id"] for x in client.get("/api/tools").json())
    r = client.post("/api/simulate", json={**FAST, "tool": t["id"], "advice": False})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["tool"]["name"] == "two-bumps" and len(d["peaks"]) == 2
    assert d["config"]["tool"] == t["id"] and str(state.uploads.root) not in r.text  # no server path leaks
    r = client.post("/api/simulate", json={**FAST, "tool": t["id"], "tool_params": {"peak_spacing_mm": 50}})
    assert r.status_code == 422 and "built-in tools only" in r.json()["detail"]


def test_upload_stl_mesh(client):
    trimesh = pytest.importorskip("trimesh")
    ball = trimesh.creation.icosphere(subdivisions=2, radius=30).export(file_type="stl")
    r = client.post("/api/tools/upload", files={"file": ("my ball.STL", ball, "model/stl")})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "my ball" and len(r.json()["peaks"]) == 1
    # an open mesh (a sphere with a face removed) is refused by the mesh checks
    open_mesh = trimesh.creation.icosphere(subdivisions=2, radius=30)
    open_mesh.update_faces(list(range(1, len(open_mesh.faces))))
    r = client.post("/api/tools/upload", files={"file": ("open.stl", open_mesh.export(file_type="stl"), "model/stl")})
    assert r.status_code == 422 and "not closed" in r.json()["detail"]


@pytest.mark.parametrize(
    "name, content, status, words",
    [
        ("tool.exe", b"MZ", 422, "unsupported tool file type"),
        ("noext", b"{}", 422, "unsupported tool file type"),
        ("empty.json", b"", 422, "empty"),
        ("bad.json", b"{not json", 422, "could not parse"),
        ("wrong.json", b'{"base": {"width_mm": -1, "length_mm": 10, "height_mm": 1}, "peaks": []}', 422, "width"),
        ("binary.stl", b"\x00" * 300, 422, ""),
        ("big.json", b" " * 300_000, 413, "upload limit"),
    ],
)
def test_upload_rejections(client, name, content, status, words):
    before = set(client.app.state.web.uploads.root.iterdir())
    r = client.post("/api/tools/upload", files={"file": (name, content, "application/octet-stream")})
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]
    assert set(client.app.state.web.uploads.root.iterdir()) == before  # nothing left behind
    assert str(client.app.state.web.uploads.root) not in r.text


def test_unknown_upload_id(client):
    r = client.post("/api/simulate", json={**FAST, "tool": "upload:" + "0" * 32})
    assert r.status_code == 422 and "unknown uploaded tool" in r.json()["detail"]


def test_uploads_removed_on_shutdown():
    app = create_app()
    with TestClient(app, base_url=BASE) as c:
        root = app.state.web.uploads.root
        files = {"file": ("t.json", json.dumps(TOOL_JSON).encode())}
        assert c.post("/api/tools/upload", files=files).status_code == 201
        assert root.exists() and oct(root.stat().st_mode & 0o777) == "0o700"
    assert not root.exists()


# -- history ----------------------------------------------------------------------------------------------------------


def test_history_empty_does_not_create_a_database(client, tmp_path):
    db = tmp_path / "hist.sqlite"
    with TestClient(create_app(history_db=db), base_url=BASE) as c:
        d = c.get("/api/history").json()
    assert d == {"exists": False, "sessions": [], "per_week": {}, "streak_days": 0, "pain_by_step": {}}
    assert not db.exists()


def test_history_with_sessions(tmp_path):
    coach = pytest.importorskip("spinerelease.coach")
    db = tmp_path / "hist.sqlite"
    store = coach.HistoryStore(db)
    t0 = datetime(2025, 3, 3, 8, 0)
    for k, (support, pains) in enumerate([(0.6, [4, 6]), (0.5, [3, 5])]):
        start = t0 + timedelta(days=k)
        sid = store.start_session(start, "pso-spine", "mid", "T8", support)
        for i, p in enumerate(pains):
            store.record_step(
                sid, "lie_back" if i == 0 else "breathing", start, start + timedelta(seconds=30), "done", p
            )
        store.finish_session(sid, start + timedelta(minutes=5))
    store.close()
    with TestClient(create_app(history_db=db), base_url=BASE) as c:
        d = c.get("/api/history").json()
    assert d["exists"] and len(d["sessions"]) == 2
    assert [s["mean_pain"] for s in d["sessions"]] == [5.0, 4.0]
    assert [s["forearm_support"] for s in d["sessions"]] == [0.6, 0.5]
    assert d["per_week"] == {"2025-W10": 2}
    assert [p["pain"] for p in d["pain_by_step"]["lie_back"]] == [4, 3]


def test_history_refuses_foreign_file(tmp_path):
    pytest.importorskip("spinerelease.coach")
    db = tmp_path / "not-a-db.sqlite"
    db.write_text("hello")
    with TestClient(create_app(history_db=db), base_url=BASE) as c:
        r = c.get("/api/history")
    assert r.status_code == 422 and "not a spinerelease history" in r.json()["detail"]
    assert db.read_text() == "hello"


# -- CLI --------------------------------------------------------------------------------------------------------------


def test_serve_command_binds_loopback(monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from spinerelease.cli.main import app as cli

    seen = {}
    monkeypatch.setattr(
        uvicorn, "run", lambda application, host, port, **kw: seen.update(host=host, port=port, app=application)
    )
    r = CliRunner().invoke(cli, ["serve", "--port", "8765"])
    assert r.exit_code == 0, r.output
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8765
    assert seen["app"].title == "spinerelease"
    r = CliRunner().invoke(cli, ["serve", "--port", "70000"])
    assert r.exit_code == 2


def test_is_loopback():
    from spinerelease.cli.serve import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.com")
