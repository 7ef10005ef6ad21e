"""The ``selfgym`` command."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from rich.markup import escape

from .sandbox.errors import SandboxError

console = Console(stderr=True, soft_wrap=True)  # one error, one line: no wrapping at 80 columns
# errors shown as one line, by module: looked up only once raised, so that a command that never loads the
# experiments (which import torch) or the executors does not load them at start (env-server: 2-3 s, 240 MiB)
CLEAR_ERRORS = (("selfgym.experiments.config", "ConfigError"), ("selfgym.runtime.errors", "ExecutorError"))


def _clear_error_types() -> tuple[type[BaseException], ...]:
    """SandboxError, and those of :data:`CLEAR_ERRORS` whose module is loaded (an error of a module never
    imported cannot have been raised)."""
    found: list[type[BaseException]] = [SandboxError]
    for module, name in CLEAR_ERRORS:
        if module in sys.modules and hasattr(sys.modules[module], name):
            found.append(getattr(sys.modules[module], name))
    return tuple(found)


def _env_kwargs(text: str) -> dict:
    """``--env-kwargs``: a JSON object, or a usage error naming the option."""
    import json

    try:
        kwargs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--env-kwargs") from None
    if not isinstance(kwargs, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--env-kwargs")
    return kwargs


def clear_errors(func):
    """Turn our errors into one red line and exit code 2, never a stack trace."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/]")
            sys.exit(130)
        except Exception as exc:
            if not isinstance(exc, _clear_error_types()):
                raise
            console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            sys.exit(2)

    return wrapper


@click.group()
@click.version_option(package_name="selfgym")
def main() -> None:
    """selfgym: a gym where LLM agents improve themselves."""


@main.group()
def sandbox() -> None:
    """Build, list and clean up the Docker sandboxes."""


@sandbox.command("build")
@click.option("--base", "base_image", default=None, help="Base image (default: python:3.11-slim, else offline).")
@click.option("--offline", is_flag=True, help="Do not try to pull; build the base with debootstrap.")
@click.option("--force", is_flag=True, help="Rebuild even if the content-hash tag exists.")
@click.argument("images", nargs=-1, type=click.Choice(["python", "web"]))
@clear_errors
def sandbox_build(base_image: str | None, offline: bool, force: bool, images: tuple[str, ...]) -> None:
    """Build the sandbox IMAGES (default: python and web; each skipped when up to date)."""
    images = images or ("python", "web")
    from .sandbox import build_image, docker_client

    for name in images:
        tag = build_image(docker_client(), name, base_image=base_image, offline=offline, force=force, console=console)
        click.echo(tag)


@sandbox.command("reap")
@click.option("--all", "everything", is_flag=True, help="Remove every selfgym container, live owners' too.")
@clear_errors
def sandbox_reap(everything: bool) -> None:
    """Remove sandbox containers left behind by dead selfgym processes."""
    from .sandbox import docker_client, reap

    removed = reap(docker_client(), everything=everything)
    console.print(f"removed {removed} container{'s' * (removed != 1)}")


@sandbox.command("ls")
@clear_errors
def sandbox_ls() -> None:
    """List selfgym sandbox containers and their owners."""
    from .sandbox import docker_client
    from .sandbox.reaper import LABEL_PID, LABEL_POOL, list_sandboxes, owner_is_dead

    table = Table("container", "status", "image", "owner pid", "pool", "orphan")
    for c in list_sandboxes(docker_client()):
        labels = c.labels
        table.add_row(c.short_id, c.status, str(c.attrs["Config"]["Image"]), labels.get(LABEL_PID, "?"),
                      labels.get(LABEL_POOL, ""), "yes" if owner_is_dead(labels) else "")
    Console().print(table)


@main.group()
def tasks() -> None:
    """Shell tasks as Harbor task directories."""


@tasks.command("export")
@click.argument("dest", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["harbor"]), default="harbor", show_default=True,
              help="The directory format written.")
@click.option("--from", "source", type=click.Path(exists=True), default=None,
              help="A YAML shell task file, or a folder of task directories (default: selfgym's shipped tasks).")
@click.option("--ids", multiple=True, help="Only the tasks whose id matches this glob (repeatable).")
@clear_errors
def tasks_export(dest: str, fmt: str, source: str | None, ids: tuple[str, ...]) -> None:
    """Write shell tasks to DEST as Harbor task directories (one per task), which `harbor run -p DEST` plays."""
    import fnmatch

    from .envs.shell import load_task_file, shipped_tasks
    from .envs.shell.export import export_tasks

    try:
        chosen = list(load_task_file(source) if source else shipped_tasks())
        if ids:
            chosen = [t for t in chosen if any(fnmatch.fnmatchcase(t.id, glob) for glob in ids)]
            if not chosen:
                raise ValueError(f"no task matches {', '.join(ids)}")
        written = export_tasks(chosen, dest)
    except (ValueError, OSError) as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    console.print(f"wrote {len(written)} task director{'ies' if len(written) != 1 else 'y'} to {dest}")


@tasks.command("check")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--strict", is_flag=True, help="All or nothing: exit 2 when any task directory cannot be played.")
@clear_errors
def tasks_check(folder: str, strict: bool) -> None:
    """Read FOLDER (a Harbor or terminal-bench task directory, or a folder of them) task by task: which tasks can
    be played, and why the others cannot."""
    import warnings

    from .envs.harbor import read_tasks

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the table below says it
            loaded = read_tasks(folder)
    except (ValueError, OSError) as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    console.print(f"{len(loaded)} task{'s' if len(loaded) != 1 else ''} can be played: "
                  f"{escape(', '.join(task.id for task in loaded))}", highlight=False)
    if loaded.skipped:
        table = Table("task directory", "why it cannot be played", title=f"{len(loaded.skipped)} left out")
        for name, reason in loaded.skipped:
            table.add_row(escape(name), escape(reason))
        console.print(table)
        if strict:
            console.print("[bold red]error:[/] --strict: every task directory must load", highlight=False)
            sys.exit(2)


@main.command()
@click.argument("env")
@click.option("--source", default=None, help="Where the tasks come from (default: the env's own): a task file or "
              "directory (Harbor, terminal-bench, the env's YAML/JSONL, or Task objects as JSONL), or "
              "reasoning-gym[:NAME,...] for selfgym/Math-v0.")
@click.option("--tasks", "globs", multiple=True, help="Only the tasks whose id matches this glob (repeatable).")
@click.option("--limit", default=None, type=click.IntRange(min=1), help="At most the first N tasks (after --tasks).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Tasks audited at once.")
@click.option("--json", "json_path", default=None, type=click.Path(dir_okay=False),
              help="Write every task's verdict and findings (with the actions that reproduce them) here; until then "
                   "each task's audit is journaled to PATH.partial.jsonl, which an interrupted run resumes from.")
@click.option("--seed", default=0, show_default=True, type=int, help="Every episode's reset seed.")
@click.option("--env-kwargs", default="{}", show_default=True, help="JSON keyword arguments of every env.")
@click.option("--level", default=0, show_default=True, type=click.IntRange(min=0),
              help="reasoning-gym sources: the generators' level.")
@click.option("--size", default=10, show_default=True, type=click.IntRange(min=1),
              help="reasoning-gym sources: tasks per generator.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@clear_errors
def audit(env: str, source: str | None, globs: tuple[str, ...], limit: int | None, workers: int,
          json_path: str | None, seed: int, env_kwargs: str, level: int, size: int, no_progress: bool) -> None:
    """Play an adversarial battery against ENV's tasks (an env id, or a Shell-v0 task file or directory) before
    they are used: every task whose check an attack passes is hackable, every task whose reference fails is broken.

    Exit code 0: every task ok; 1: some task hackable or broken; 2: a usage error."""
    from .envs.audit.report import journal_path, show, write_json
    from .envs.audit.sources import AuditSourceError, audit_source

    kwargs = _env_kwargs(env_kwargs)
    journal = journal_path(json_path) if json_path is not None else None
    if journal is not None:  # found out now, not after the audit
        import os

        folder = journal.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.BadParameter(f"cannot make its folder: {exc}", param_hint="--json") from None
        if not os.access(folder, os.W_OK):
            raise click.BadParameter(f"{folder} is not writable", param_hint="--json")
    played: list[str] = []
    try:
        report = audit_source(env, source, tasks=globs, limit=limit, workers=workers, seed=seed, env_kwargs=kwargs,
                              progress=not no_progress, level=level, size=size, journal=journal,
                              on_result=lambda audit: played.append(audit.task_id))
    except AuditSourceError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        if journal is not None and journal.exists():
            console.print(f"[yellow]interrupted[/]: the same command resumes from {journal}")
            sys.exit(130)
        raise
    if len(played) < len(report.tasks):
        console.print(f"{len(report.tasks) - len(played)} task audits taken from {journal} (delete it to audit "
                      "them again)")
    show(report, Console())
    if json_path is not None:
        write_json(report, json_path)
        journal.unlink(missing_ok=True)
        console.print(f"wrote {json_path}")
    if not report.ok:
        sys.exit(1)


@main.command()
@click.option("--runs", default=40, show_default=True, help="Timed runs per mode.")
@clear_errors
def demo(runs: int) -> None:
    """Run programs, hostile ones included, in sandboxes and print what was measured."""
    from .sandbox.demo import run_demo

    run_demo(runs=runs, console=Console())


@main.command()
@click.argument("experiment", required=False, type=click.Path(dir_okay=False))
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False), help="Continue the run in this folder.")
@click.option("--output-dir", default=None, help="Run folder (default: the experiment's output_dir).")
@clear_errors
def run(experiment: str | None, resume_dir: str | None, output_dir: str | None) -> None:
    """Run an EXPERIMENT (YAML): env, agent, method, curriculum, budget, evaluation."""
    from .experiments.config import load_experiment
    from .experiments.runner import ExperimentRunner

    if (experiment is None) == (resume_dir is None):
        raise click.UsageError("give an EXPERIMENT file, or --resume RUN_DIR")
    if resume_dir is None:
        config = load_experiment(experiment)
        run_dir = Path(output_dir) if output_dir else config.run_dir
        if (run_dir / "state.json").exists():  # the same experiment again: continue (or just report) that run
            console.print(f"{run_dir} holds this experiment's run: resuming it")
            resume_dir = str(run_dir)
            ExperimentRunner(config, run_dir)._check_same_config()
    if resume_dir is not None:
        runner = ExperimentRunner.resume(resume_dir, Console())
    else:
        runner = ExperimentRunner(config, output_dir, Console())
    runner.run()


@main.command()
@click.argument("model", default="smollm2")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--name", "model_name", default=None, help="Model name the endpoint reports (default: MODEL).")
@click.option("--device", default=None, help="cuda, cpu, ... (default: cuda when available).")
@click.option("--batch-size", default=8, show_default=True, type=int)
@clear_errors
def serve(model: str, host: str, port: int, model_name: str | None, device: str | None, batch_size: int) -> None:
    """Serve MODEL (a checkpoint path, hub name or 'smollm2') as an OpenAI-compatible chat endpoint."""
    from .agents.serve import serve as run_server

    run_server(model, host=host, port=port, model_name=model_name, device=device, batch_size=batch_size)


@main.command("env-server")
@click.argument("env_id")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0: every interface).")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--max-sessions", default=16, show_default=True, type=click.IntRange(min=1),
              help="Sessions (one env each) open at once, in all processes together; more are answered "
                   "CAPACITY_REACHED.")
@click.option("--processes", default=None, type=click.IntRange(min=1),
              help="Server processes sharing the port (a session stays in the one that accepted it; a dead one is "
                   "restarted)  [default: one per core]")
@click.option("--idle-timeout", "idle_timeout_s", default=600.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds a session may send nothing before it is closed.")
@click.option("--token", default=None, envvar="SELFGYM_ENV_SERVER_TOKEN",
              help="Clients must send 'Authorization: Bearer TOKEN' (or set $SELFGYM_ENV_SERVER_TOKEN).")
@click.option("--env-kwargs", default="{}", show_default=True, help="JSON keyword arguments of every env.")
@click.option("--allow-custom-tasks", is_flag=True, help="Accept task objects in reset, not only task ids.")
@click.option("--max-message-bytes", default=8 << 20, show_default=True, type=click.IntRange(min=1024))
@click.option("--warm", default=0, show_default=True, type=click.IntRange(min=0),
              help="Sandboxes started with the server (the others start when first needed).")
@click.option("--pool-size", default=None, type=click.IntRange(min=1),
              help="Sandboxes shared by the sessions, handed out first come, first served; split evenly over the "
                   "processes (at least one each)  [default: --max-sessions]")
@click.option("--sandbox-wait", "sandbox_wait_s", default=60.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds a reset waits for a sandbox before it is answered CAPACITY_REACHED.")
@click.option("--workers", default=None, type=click.IntRange(min=1),
              help="Threads for blocking env work of each process, shared by its sessions  [default: one per "
                   "sandbox + 2 per core + 2]")
@click.option("--curriculum", "curriculum_spec", default=None, metavar="NAME|FILE.yaml",
              help="A reset without a task plays this curriculum's choice (uniform, ladder, plr, learning_progress, "
                   "learnability, self_evolving, or a YAML file: name:, params:).")
@click.option("--curriculum-db", default="runs/curriculum.db", show_default=True,
              help="Where outcomes are kept: an SQLite file, or postgresql://USER@HOST/DB shared by servers.")
@click.option("--curriculum-run", default=None, help="The curriculum run (servers naming the same run share it; "
              "default: ENV-CURRICULUM).")
@click.option("--model", "model_name", default="unknown", show_default=True,
              help="The model outcomes are recorded under (a new run starts from this model's earlier outcomes).")
@click.option("--fresh", is_flag=True, help="A new curriculum run starts from nothing, not from earlier runs.")
@clear_errors
def env_server(env_id: str, host: str, port: int, max_sessions: int, processes: int | None, idle_timeout_s: float,
               token: str | None, env_kwargs: str, allow_custom_tasks: bool, max_message_bytes: int, warm: int,
               pool_size: int | None, sandbox_wait_s: float, workers: int | None, curriculum_spec: str | None,
               curriculum_db: str, curriculum_run: str | None, model_name: str, fresh: bool) -> None:
    """Serve ENV_ID (e.g. selfgym/Code-v0) over OpenEnv's protocol: WebSocket /ws, one env per connection."""
    from .envs.pools import env_class
    from .envs.remote.processes import ChildFailed, default_processes
    from .envs.remote.server import EnvServer, serve_processes

    kwargs = _env_kwargs(env_kwargs)
    processes = processes or default_processes()
    sandboxes = pool_size or max_sessions
    try:
        env_class(env_id)  # an unknown id is the operator's error, before any process starts
        if curriculum_spec is not None:
            from .curricula.service import curriculum_spec as parse_spec

            curriculum_name = parse_spec(curriculum_spec).name
    except (ValueError, TypeError) as exc:
        raise click.UsageError(str(exc)) from None

    def build(place) -> EnvServer:
        """This process's server (each of several builds its own: its envs, its share of the sandboxes)."""
        share = place.share if place is not None else (lambda total: total)
        server = EnvServer(env_id, env_kwargs=kwargs, max_sessions=max_sessions, idle_timeout_s=idle_timeout_s,
                           token=token, allow_custom_tasks=allow_custom_tasks, max_message_bytes=max_message_bytes,
                           warm=share(warm) if warm else 0, pool_size=share(sandboxes), sandbox_wait_s=sandbox_wait_s,
                           workers=workers, place=place)
        if curriculum_spec is not None:
            from .curricula.service import open_service

            # several processes are several servers of one curriculum run: the store is the truth each folds
            run = curriculum_run or f"{server.env_name}-{curriculum_name}"
            server.curriculum = open_service(list(server._catalog.unwrapped.source), curriculum_spec, curriculum_db,
                                             run=run, model=model_name, inherit=not fresh, env_id=env_id,
                                             env_kwargs=kwargs)
            server.app = server._build_app()  # with the curriculum's routes
            if place is None or place.index == 0:
                console.print(f"curriculum {curriculum_name} (run {run!r}, {server.curriculum.folded} outcomes "
                              f"known) in {server.curriculum.store.safe_url}")
        return server

    if host not in ("127.0.0.1", "localhost", "::1") and token is None:
        console.print(f"[yellow]warning:[/] serving on {host} without --token: anyone who reaches it can play")

    def ready() -> None:
        split = f" in {processes} processes" if processes > 1 else ""
        console.print(f"serving {env_id} on http://{host}:{port} (WebSocket /ws, {max_sessions} sessions, "
                      f"{sandboxes} sandboxes if the env takes any{split})")

    if curriculum_spec is not None and processes > 1:
        from .curricula.store import CurriculumStore

        # its schema made (migrated) once, here: SQLite has no lock for processes that would all make it at once
        CurriculumStore(curriculum_db).close()
    try:
        serve_processes(build, processes=processes, host=host, port=port, max_sessions=max_sessions,
                        on_ready=ready)
    except (ValueError, TypeError, ChildFailed, OSError) as exc:
        raise click.UsageError(str(exc)) from None



def eval_errors(func):
    """Like :func:`clear_errors`, for what an evaluation can get wrong: a suite, an agent spec, a run folder,
    a model server, results that cannot be ranked together."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from .agents.policy import PolicyError
        from .agents.spec import AgentSpecError
        from .runtime import ExecutorError
        from .eval.leaderboard import LeaderboardError
        from .eval.runner import EvalError
        from .eval.suite import SuiteError

        try:
            return func(*args, **kwargs)
        except (SuiteError, AgentSpecError, EvalError, ExecutorError, LeaderboardError, PolicyError) as exc:
            console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            sys.exit(2)

    return wrapper


@main.group()
def curriculum() -> None:
    """The curriculum store: what curricula of env servers and runs have recorded."""


@curriculum.command("show")
@click.argument("database")
@click.option("--run", "run_name", default=None, help="The run to show (default: every run, the dashboard of the "
              "newest).")
@click.option("--html", "html_path", default=None, type=click.Path(dir_okay=False),
              help="Also write the run's dashboard (a self-contained HTML page) here.")
@clear_errors
def curriculum_show(database: str, run_name: str | None, html_path: str | None) -> None:
    """Runs, families and written tasks of the curriculum store DATABASE (an SQLite file or postgresql:// URL)."""
    from rich.table import Table

    from .curricula.dashboard import render_dashboard
    from .curricula.store import CurriculumStore
    from .io import atomic_write_text

    if "://" not in database and not os.path.exists(database):
        raise click.UsageError(f"no curriculum store at {database} (give the file an env server or run wrote)")
    try:
        store = CurriculumStore(database)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    runs = store.runs()
    if run_name is not None:
        runs = [run for run in runs if run.name == run_name]
        if not runs:
            raise click.UsageError(f"no run {run_name!r} in {database}; runs: "
                                   f"{', '.join(r.name for r in store.runs()) or 'none'}")
    if not runs:
        console.print(f"{database} holds no curriculum runs yet")
        return
    for run in runs:
        counts = store.counts(run.id)
        table = Table(title=f"run {run.name}: {run.curriculum}, model {run.model}, {counts['outcomes']} outcomes, "
                            f"{counts['draws']} draws", title_justify="left")
        for column in ("family", "plays", "success rate", "draws", "written"):
            table.add_column(column, justify="left" if column == "family" else "right")
        totals: dict[str, list[float]] = {}
        for row in store.tasks(run.id):
            entry = totals.setdefault(row["family"], [0, 0.0, 0, 0])
            entry[0] += row["plays"]
            entry[1] += row["successes"]
            entry[2] += row["draws"]
            entry[3] += row["origin"] == "written"
        for family, (plays, successes, drawn, written) in sorted(totals.items()):
            table.add_row(escape(family), str(plays), f"{successes / plays:.2f}" if plays else "-", str(drawn),
                          str(written))
        console.print(table)
    if html_path is not None:
        atomic_write_text(html_path, render_dashboard(store, runs[-1]))
        console.print(f"dashboard of {runs[-1].name!r} written to {html_path}")


@main.group()
def tree() -> None:
    """Search trees (``TreeSearch``'s JSONL records)."""


@tree.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--index", default=None, type=click.IntRange(min=0), help="Only the tree on this line (from 0).")
@click.option("--width", default=60, show_default=True, type=click.IntRange(min=10), help="Characters per action.")
def tree_show(file: str, index: int | None, width: int) -> None:
    """Print the trees of FILE: actions, the env's answers, rewards, visits, values; the committed path in green."""
    from .agents.search_tree import read_trees
    from .agents.tree_search import tree_view

    try:
        trees = list(read_trees(file))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if index is not None and index >= len(trees):
        raise click.UsageError(f"{file} holds {len(trees)} trees; --index must be below that")
    for tree in trees if index is None else [trees[index]]:
        Console(soft_wrap=False).print(tree_view(tree, width=width))


@main.command("eval")
@click.argument("suite")
@click.option("--agent", "agent_spec", required=True,
              help="hf:NAME_OR_PATH, openai:MODEL@http://host:port/v1, scripted:oracle, or a checkpoint "
                   "folder.")
@click.option("--model", default=None, help="The model name, for --agent openai:http://host:port/v1.")
@click.option("--name", default=None, help="How results and leaderboards name the agent.")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Run folder (default: runs/eval/SUITE-vVERSION/AGENT); an existing one is resumed.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--workers", default=4, show_default=True, type=click.IntRange(min=1),
              help="Rollout workers: threads (local) or actors (ray).")
@click.option("--batch-size", default=1, show_default=True, type=click.IntRange(min=1),
              help="Episodes each worker plays in lockstep (one batched model call per turn).")
@click.option("--ray-address", default=None, help="Ray cluster to join (default: a local one).")
@click.option("--gpus-per-worker", default=0.0, show_default=True, type=float,
              help="Ray: GPUs each actor takes.")
@click.option("--device", default=None, help="Where a local model runs (default: cuda when available).")
@click.option("--limit", default=None, type=click.IntRange(min=1),
              help="A quick check: only the first N tasks of each task set (results not rankable with full runs).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@clear_errors
@eval_errors
def eval_suite(suite: str, agent_spec: str, model: str | None, name: str | None, out_dir: str | None,
               executor: str, workers: int, batch_size: int, ray_address: str | None, gpus_per_worker: float,
               device: str | None, limit: int | None, no_progress: bool) -> None:
    """Evaluate an agent on SUITE (a suite YAML, or a shipped suite: code, shell, math).

    Episodes are logged to OUT/episodes.jsonl as they finish; running the same command again resumes, and
    plays again the episodes lost to infrastructure errors. The summary (success rate, pass@k, 95% intervals,
    per-family breakdown, errors, tokens, time, versions, images) goes to OUT/summary.json.
    """
    import re

    from .agents.spec import parse_agent
    from .runtime import make_executor
    from .eval.runner import run_eval
    from .eval.suite import limit_suite, load_suite

    loaded = load_suite(suite)
    if limit is not None:
        loaded = limit_suite(loaded, limit)
    agent = parse_agent(agent_spec, model=model, name=name)
    if out_dir is None:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", agent.display_name).strip("_") or "agent"
        out_dir = f"runs/eval/{loaded.name}-v{loaded.version}/{slug}" + (f"-limit{limit}" if limit else "")
    try:
        runner = make_executor(executor, workers, address=ray_address, gpus_per_worker=gpus_per_worker)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    summary = run_eval(loaded, agent, out_dir, executor=runner, batch_size=batch_size, device=device,
                       progress=not no_progress, console=console)
    results = summary["results"]
    table = Table("family", "tasks", "episodes", "success %", "95% CI", *[f"pass@{k} %" for k in summary["suite"]["k"]],
                  "errors", title=f"{agent.display_name} on {loaded.label}")

    def add(label: str, part: dict) -> None:
        low, high = part["success_ci95"]
        pass_at = [part["pass_at_k"].get(str(k), {}).get("estimate") for k in summary["suite"]["k"]]
        table.add_row(label, str(part["tasks"]), str(part["episodes"]), f"{100 * part['success_rate']:.1f}",
                      f"{100 * low:.1f}-{100 * high:.1f}",
                      *["-" if value is None else f"{100 * value:.1f}" for value in pass_at], str(part["errors"]))

    for family, part in results["families"].items():
        add(family, part)
    add("[bold]all[/]", results)
    Console().print(table)
    cost = summary["cost"]
    tokens = cost["prompt_tokens"] + cost["completion_tokens"]
    console.print(f"{tokens:,} tokens, {cost['wall_seconds']:.1f} s; summary: {out_dir}/summary.json")
    if results["errors"]:
        console.print(f"[yellow]{results['errors']} episode(s) lost to infrastructure errors[/] (not counted as "
                      "failures; reasons in summary.json): run the same command again to play them again")


@main.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", "out_dir", default="leaderboard", show_default=True, type=click.Path(file_okay=False),
              help="Folder for leaderboard.md, .json, .html and .png.")
@clear_errors
@eval_errors
def leaderboard(results: tuple[str, ...], out_dir: str) -> None:
    """Rank eval RESULTS (summary.json files or run folders) of one suite version; print the Markdown
    table."""
    from .eval.leaderboard import load_summaries, write_leaderboard

    paths = write_leaderboard(load_summaries(results), out_dir)
    click.echo(paths["md"].read_text(encoding="utf-8"), nl=False)
    console.print(f"wrote {', '.join(str(p) for p in paths.values())}")


if __name__ == "__main__":
    main()
