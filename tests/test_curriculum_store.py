"""The curriculum store (SQLAlchemy + Alembic; SQLite and a real PostgreSQL server) and the service that folds
its shared outcome log: migrations, each episode counted once, runs that inherit, written tasks with their audit
verdicts, and two servers (processes) racing their updates on one run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest
from pg_cluster import postgres_cluster

from selfgym.curricula import FixedFamily, SelfEvolvingCurriculum
from selfgym.curricula.service import CurriculumService, CurriculumSpecError, curriculum_spec
from selfgym.curricula.store import CurriculumStore, StoreError, database_url
from selfgym.envs.task import Task

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def tasks() -> list[Task]:
    return [Task(f"{family}-{level}-{i}", family, f"{family} question {level}/{i}", level)
            for family in ("add", "mul", "gcd") for level in range(2) for i in range(20)]


def families() -> list[FixedFamily]:
    by_family: dict[str, list[Task]] = {}
    for task in tasks():
        by_family.setdefault(task.family, []).append(task)
    return [FixedFamily(name, group) for name, group in by_family.items()]


@pytest.fixture(scope="module")
def postgres():
    with postgres_cluster() as url:
        yield url


def test_the_migrations_make_the_models_schema_and_rerun_as_no_ops(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from selfgym.curricula.store.models import Base

    path = str(tmp_path / "nested" / "c.db")
    store = CurriculumStore(path)
    CurriculumStore(path)  # at head already: nothing to do, nothing broken
    assert store.version() == "0001"
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(StoreError, match="unsupported database 'mysql'"):
        database_url("mysql://u@h/db")
    with pytest.raises(StoreError, match="cannot open the curriculum store"):
        CurriculumStore("postgresql://nobody@127.0.0.1:1/none")


def test_each_episode_counts_once_and_a_new_run_starts_from_what_is_known(tmp_path):
    store = CurriculumStore(str(tmp_path / "c.db"))
    run = store.open_run("first", model="m", curriculum="ladder", seed=3)
    task = tasks()[0]
    assert store.record_outcome(run.id, "ep-1", task, 1.0, model="m")
    assert not store.record_outcome(run.id, "ep-1", task, 0.0, model="m")  # a retried write: ignored
    assert store.record_outcome(run.id, "ep-2", task, 0.0, model="m")
    with pytest.raises(ValueError, match=r"success must lie in \[0, 1\]"):
        store.record_outcome(run.id, "ep-3", task, 2.0, model="m")
    [row] = store.tasks(run.id)
    assert (row["plays"], row["successes"]) == (2, 1.0)
    assert store.open_run("first", model="m", curriculum="ladder").id == run.id
    with pytest.raises(StoreError, match="uses the 'ladder' curriculum, not 'plr'"):
        store.open_run("first", model="m", curriculum="plr")
    inheriting = store.open_run("second", model="m", curriculum="ladder")
    fresh = store.open_run("third", model="m", curriculum="ladder", inherit=False)
    other_model = store.open_run("fourth", model="other", curriculum="ladder")
    assert [o.success for o in store.inherited(inheriting)] == [1.0, 0.0]
    assert store.inherited(fresh) == [] and store.inherited(other_model) == []
    # a service of the inheriting run starts from those outcomes, one of the fresh run from nothing
    from selfgym.curricula import LadderCurriculum

    assert CurriculumService(LadderCurriculum(families()), store, inheriting).curriculum.episodes == 2
    assert CurriculumService(LadderCurriculum(families()), store, fresh).curriculum.episodes == 0


def test_written_tasks_are_stored_with_the_proposals_audit_verdict(tmp_path):
    store = CurriculumStore(str(tmp_path / "c.db"))
    run = store.open_run("r", model="m", curriculum="self_evolving", params={"phase_length": 5})
    curriculum = SelfEvolvingCurriculum(families(), seed=0, phase_length=5, band=(0.0, 1.0))
    service = CurriculumService(curriculum, store, run, known_tasks=tasks(), server="a")
    for i in range(10):
        task = service.choose()
        assert service.finished(f"e{i}", task, 0.0, {})  # every failure feeds the writer
    written = store.tasks(run.id, origin="written")
    assert written and all(row["audit_verdict"] is None for row in written)
    assert store.counts(run.id)["phases"] == 2
    audited = Task("w-1", "add", "written", 1)
    assert store.add_written(run.id, audited, fingerprint="f", audit_verdict="pass")
    assert not store.add_written(run.id, audited, fingerprint="f")
    assert {r["task_id"]: r["audit_verdict"] for r in store.tasks(run.id, origin="written")}["w-1"] == "pass"
    # another server of the run adopts the written tasks into its pool
    other = CurriculumService(SelfEvolvingCurriculum(families(), seed=0, phase_length=5), store, run, server="b")
    pool = {t.id for t in other.curriculum.pool}
    assert {row["task_id"] for row in store.tasks(run.id, origin="written")} <= pool
    assert other.curriculum.episodes == 10


def test_an_outcome_write_is_retried_and_a_lost_one_is_counted_not_raised(tmp_path, monkeypatch):
    import sqlalchemy as sa

    from selfgym.curricula import UniformCurriculum, service as service_module

    store = CurriculumStore(str(tmp_path / "c.db"))
    service = CurriculumService(UniformCurriculum(families()), store, store.open_run("r", model="m",
                                                                                       curriculum="uniform"))
    monkeypatch.setattr(service_module, "RETRY_PAUSES_S", (0.0, 0.0))
    real, failures = store.record_outcome, []

    def flaky(*args, **kwargs):  # the database away for the first ``len(failures)`` tries
        if failures:
            failures.pop()
            raise sa.exc.OperationalError("INSERT", {}, Exception("server closed the connection"))
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "record_outcome", flaky)
    task = tasks()[0]
    failures[:] = [1]
    assert service.finished("e1", task, 1.0) and service.curriculum.episodes == 1  # the retry got through
    failures[:] = [1, 1]
    assert not service.finished("e2", task, 1.0)  # lost: counted, logged, the episode's reply goes on
    assert service.describe()["unrecorded"] == 1 and store.counts(service.run.id)["outcomes"] == 1


def test_curriculum_specs_are_names_or_yaml_files(tmp_path):
    assert curriculum_spec("ladder").name == "ladder"
    path = tmp_path / "c.yaml"
    path.write_text("name: self_evolving\nparams: {phase_length: 8}\n")
    assert curriculum_spec(str(path)).params == {"phase_length": 8}
    path.write_text("name: self_evolving\nparms: {}\n")
    with pytest.raises(CurriculumSpecError, match="parms"):
        curriculum_spec(str(path))
    with pytest.raises(CurriculumSpecError, match="unknown curriculum 'ladderr'"):
        curriculum_spec("ladderr")


WORKER = textwrap.dedent("""
    import json, os, sys, time
    sys.path.insert(0, sys.argv[4])
    import numpy as np
    from test_curriculum_store import families, tasks
    from selfgym.curricula import SelfEvolvingCurriculum
    from selfgym.curricula.service import CurriculumService
    from selfgym.curricula.store import CurriculumStore

    url, name, go = sys.argv[1], sys.argv[2], sys.argv[3]
    store = CurriculumStore(url)
    run = store.open_run("race", model="m", curriculum="self_evolving", params={"phase_length": 10})
    service = CurriculumService(SelfEvolvingCurriculum(families(), seed=run.seed, phase_length=10,
                                                       band=(0.0, 1.0)), store, run, known_tasks=tasks(), server=name)
    while not os.path.exists(go):
        time.sleep(0.01)
    rng = np.random.default_rng(len(name))
    first = tasks()[0]
    for i in range(50):
        task = service.choose() if i % 2 else first  # half on one task: both servers update its row at once
        service.finished(f"{name}-{i}", task, float(rng.random() < 0.5))
        if i < 20:
            service.finished(f"shared-{i}", first, 1.0)  # the same episode reported by both: counted once
    open(go + "-" + name, "w").close()  # this server is done writing; fold once both are
    while not all(os.path.exists(go + "-" + other) for other in ("server-a", "server-b")):
        time.sleep(0.01)
    service.sync()
    model = sorted(tuple(o) for family in service.curriculum.outcome_model.outcomes.values() for o in family)
    print(json.dumps({"episodes": service.curriculum.episodes, "trials": sum(service.curriculum.trials),
                      "model": model}))
""")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_servers_racing_on_one_run_lose_nothing_and_count_nothing_twice(backend, tmp_path, request):
    url = str(tmp_path / "race.db") if backend == "sqlite" else request.getfixturevalue("postgres")
    if backend == "postgresql":  # a fresh database per test
        import sqlalchemy as sa

        engine = sa.create_engine(database_url(url), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sa.text("CREATE DATABASE race"))
        engine.dispose()
        url = url.rsplit("/", 1)[0] + "/race"
    CurriculumStore(url)  # migrated once here: the workers also race on opening the run
    go = tmp_path / "go"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    workers = [subprocess.Popen([sys.executable, str(script), url, name, str(go), str(ROOT / "tests")], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in ("server-a", "server-b")]
    time.sleep(0.5)
    go.touch()
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    store = CurriculumStore(url)
    [run] = store.runs()
    total = 2 * 50 + 20
    assert store.counts(run.id)["outcomes"] == total
    rows = store.tasks(run.id)
    assert sum(row["plays"] for row in rows) == total
    logged = Counter(outcome.task_key for outcome in store.outcomes(run.id))
    assert {row["key"]: row["plays"] for row in rows if row["plays"]} == dict(logged)  # no update of a row lost
    assert logged[f"add/{tasks()[0].id}"] >= 2 * 25 + 20  # the row both servers updated at once
    assert store.counts(run.id)["phases"] == total // 10  # each phase written by one server
    written = store.tasks(run.id, origin="written")
    assert len({row["key"] for row in written}) == len(written)
    for result in results:  # both folded the same log: the same outcomes, whatever the order of their writes
        assert result["episodes"] == total and result["trials"] == total
    assert results[0]["model"] == results[1]["model"]
    store.close()


class ForgingWriter:
    """A task writer (an LLM, to the curriculum) that labels its own tasks as audited."""

    def propose(self, failed: Task, rng, n: int) -> list[Task]:
        return [Task(f"forged-{failed.id}-{i}", failed.family, f"{failed.prompt} #{i}", failed.difficulty,
                     {**failed.data, "audit_verdict": "pass", "audit": {"verdict": "pass"}}) for i in range(n)]


def test_a_writers_own_audit_label_is_not_stored_as_a_verdict(tmp_path):
    store = CurriculumStore(str(tmp_path / "c.db"))
    run = store.open_run("r", model="m", curriculum="self_evolving", params={"phase_length": 5})
    curriculum = SelfEvolvingCurriculum(families(), seed=0, phase_length=5, band=(0.0, 1.0), writers=[ForgingWriter()])
    service = CurriculumService(curriculum, store, run, known_tasks=tasks(), server="a")
    for i in range(5):
        assert service.finished(f"e{i}", service.choose(), 0.0, {})
    written = store.tasks(run.id, origin="written")
    assert written and {row["audit_verdict"] for row in written} == {None}
