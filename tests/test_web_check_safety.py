"""A Web-v0 check is data a client may send (``selfgym env-server --allow-custom-tasks``): its SQL reads only the
site's own tables (no ATTACH of a host file, no write, no PRAGMA, no extension, bounded time and memory) and its
URL pattern is RE2 (linear time; what RE2 cannot compile is refused when the task is loaded). No Docker needed: the
refusals happen when the task is loaded, before any sandbox, and the guard is tested on the seeded databases."""

from __future__ import annotations

import sqlite3

import pytest

from selfgym.envs import Task
from selfgym.envs.web import checks
from selfgym.envs.web.checks import Check, CheckDatabase, SqlRefused, evaluate
from selfgym.envs.web.container import DATABASE_SITES, open_database, seed_database
from selfgym.envs.web.tasks import spec_of
from selfgym.envs.web_env import WebEnv


def site_task(check: dict, task_id: str = "client/1") -> Task:
    return Task(id=task_id, family="web", prompt="Do it.", data={
        "category": "state", "sites": ["shop"], "check": check, "reference": ['answer("done")']})


def seeded(name: str) -> sqlite3.Connection:
    return open_database(seed_database(name))


@pytest.fixture
def host_db(tmp_path):
    """A host SQLite file with a secret in it: what an ATTACH would read."""
    path = tmp_path / "secret.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE secret (value TEXT)")
    conn.execute("INSERT INTO secret VALUES ('hunter2')")
    conn.commit()
    conn.close()
    return path


def attacks(tmp_path, host_db) -> list[str]:
    created = tmp_path / "created.db"
    return [
        f"ATTACH '{host_db}' AS h",
        f"ATTACH 'file:{host_db}?mode=ro' AS h",
        f"ATTACH '{created}' AS c",
        f"VACUUM INTO '{created}'",
        "DELETE FROM products",
        "UPDATE products SET name = 'x'",
        "/* c */ VACUUM",
        "CREATE TABLE t (x)",
        "CREATE TEMP TABLE t (x)",
        "PRAGMA writable_schema = ON",
        "PRAGMA database_list",
        "SELECT * FROM pragma_database_list",
        "SELECT load_extension('/tmp/evil')",
        "BEGIN",
    ]


def test_the_databases_a_check_names_are_the_sites():
    assert checks.DATABASES == DATABASE_SITES


def test_sql_that_reaches_past_the_site_is_refused_when_the_task_loads(tmp_path, host_db):
    for query in attacks(tmp_path, host_db):
        task = site_task({"sql": [{"db": "shop", "query": query, "expect": [[1]]}]})
        with pytest.raises(ValueError, match=r"web task 'client/1': sql check 1 \(shop\): not allowed in a check") as err:
            spec_of(task)
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="no database '../../etc/passwd'"):
        spec_of(site_task({"sql": [{"db": "../../etc/passwd", "query": "SELECT 1", "expect": [[1]]}]}))
    with pytest.raises(ValueError, match="one statement at a time"):
        spec_of(site_task({"sql": [{"db": "shop", "query": f"SELECT 1; ATTACH '{host_db}' AS h", "expect": [[1]]}]}))
    assert not (tmp_path / "created.db").exists()


def test_the_env_refuses_such_a_task_at_reset_before_any_sandbox(tmp_path, host_db):
    env = WebEnv()
    try:
        task = site_task({"sql": [{"db": "shop", "query": f"ATTACH '{host_db}' AS h", "expect": [[1]]}]})
        with pytest.raises(ValueError, match="not allowed in a check: 'ATTACH'"):
            env.reset(options={"task": task})
        assert env.unwrapped._container is None
    finally:
        env.close()


def test_at_evaluation_the_guard_holds_even_for_a_check_that_skipped_loading(tmp_path, host_db):
    """``evaluate`` guards every connection itself: a check built without ``spec_of`` gets 0, not the secret."""
    for query in attacks(tmp_path, host_db) + [f"SELECT value FROM (SELECT 1) JOIN h.secret"]:
        check = Check(sql=[{"db": "shop", "query": query, "expect": [["hunter2"]]}])
        verdict = evaluate(check, answer="", url="/", database=seeded)
        assert not verdict.passed and "hunter2" not in " ".join(verdict.details), (query, verdict)
    assert not (tmp_path / "created.db").exists()


def test_beneath_the_select_only_rule_the_authorizer_and_limits_refuse_too(tmp_path, host_db):
    """Defence in depth: the connection itself refuses what the first-word rule already keeps out."""
    db = CheckDatabase(seeded("shop"))
    try:
        for statement in (f"ATTACH '{host_db}' AS h", f"ATTACH '{tmp_path / 'created.db'}' AS c", "DELETE FROM products",
                          "PRAGMA query_only = OFF", f"VACUUM INTO '{tmp_path / 'created.db'}'"):
            with pytest.raises(sqlite3.DatabaseError, match="not authorized|authorization denied"):
                db.conn.execute(statement)
        assert db.conn.getlimit(sqlite3.SQLITE_LIMIT_ATTACHED) == 0
        assert db.rows("SELECT count(*) FROM products")[0][0] > 0  # what a check is for still works
    finally:
        db.close()
    assert not (tmp_path / "created.db").exists()


def test_an_endless_or_huge_query_is_stopped_and_fails_the_check():
    db = CheckDatabase(seeded("shop"), time_limit_s=0.5)
    try:
        with pytest.raises(SqlRefused, match=r"stopped after 0.5 s"):
            db.rows("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")
        with pytest.raises(sqlite3.DataError, match="too big"):
            db.rows("SELECT length(zeroblob(1000000000))")
        assert db.rows("SELECT count(*) > 0 FROM products") == [[1]]  # the connection still answers
    finally:
        db.close()
    check = Check(sql=[{"db": "shop", "query": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                                                "SELECT max(x) FROM c", "expect": [[1]]}])
    checks_module_limit, checks.SQL_TIME_LIMIT_S = checks.SQL_TIME_LIMIT_S, 0.3
    try:
        verdict = evaluate(check, answer="", url="/", database=seeded)
    finally:
        checks.SQL_TIME_LIMIT_S = checks_module_limit
    assert not verdict.passed and "stopped after" in verdict.details[0]


def test_reading_the_sites_tables_still_works():
    db = CheckDatabase(seeded("forum"))
    try:
        assert db.rows("SELECT COUNT(*), SUM(id = 18) FROM posts")[0][0] > 0
        assert db.rows("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3) "
                       "SELECT group_concat(x) FROM c") == [["1,2,3"]]
    finally:
        db.close()


def test_url_patterns_are_re2_refused_at_load_when_re2_cannot_compile_them():
    with pytest.raises(ValueError, match=r"(?s)web task 'client/re'.*check\.url.*not an RE2 expression"):
        spec_of(site_task({"url": r"/(a)\1"}, task_id="client/re"))
    with pytest.raises(ValueError, match="not an RE2 expression"):
        spec_of(site_task({"url": r"/(?=orders)orders"}, task_id="client/look"))


@pytest.mark.timeout(60)  # Python's re takes 2**n steps here: without RE2 this test never ends
def test_a_backtracking_pattern_on_a_long_url_runs_in_linear_time():
    check = spec_of(site_task({"url": r"/(a+)+"}, task_id="client/redos")).check
    verdict = evaluate(check, answer="", url="http://shop.localhost:7770/" + "a" * 5_000 + "!", database=seeded)
    assert not verdict.passed
    assert evaluate(check, answer="", url="http://shop.localhost:7770/aaa", database=seeded).passed


def test_through_env_server_with_custom_tasks_the_client_gets_the_refusal_and_the_session_goes_on(host_db):
    from fastapi.testclient import TestClient

    from selfgym.envs.remote.server import EnvServer

    attach = site_task({"sql": [{"db": "shop", "query": f"ATTACH '{host_db}' AS h", "expect": [["hunter2"]]}]})
    backreference = site_task({"url": r"/(a)\1"}, task_id="client/re")
    server = EnvServer("selfgym/Web-v0", allow_custom_tasks=True, max_sessions=2)
    with TestClient(server.app) as client:
        reply = client.post("/reset", json={"task": attach.to_dict()})
        assert reply.status_code == 422 and reply.json()["detail"]["code"] == "VALIDATION_ERROR"
        assert "not allowed in a check: 'ATTACH'" in reply.json()["detail"]["message"]
        with client.websocket_connect("/ws") as ws:
            for task, reason in ((attach, "'ATTACH'"), (backreference, "not an RE2 expression")):
                ws.send_json({"type": "reset", "data": {"task": task.to_dict()}})
                answer = ws.receive_json()
                assert answer["type"] == "error" and answer["data"]["code"] == "VALIDATION_ERROR"
                assert task.id in answer["data"]["message"] and reason in answer["data"]["message"]
                assert "hunter2" not in str(answer)
            ws.send_json({"type": "state"})
            assert ws.receive_json()["type"] == "state"  # the session goes on
