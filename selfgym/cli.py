"""The ``selfgym`` command."""

from __future__ import annotations

import functools
import sys

import click
from rich.console import Console
from rich.table import Table

from rich.markup import escape

from .curricula.config import ConfigError
from .sandbox.errors import SandboxError

console = Console(stderr=True, soft_wrap=True)  # one error, one line: no wrapping at 80 columns


def clear_errors(func):
    """Turn our errors into one red line and exit code 2, never a stack trace."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (SandboxError, ConfigError) as exc:
            console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            sys.exit(2)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/]")
            sys.exit(130)

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
@clear_errors
def sandbox_build(base_image: str | None, offline: bool, force: bool) -> None:
    """Build the sandbox images (skipped when up to date)."""
    from .sandbox import build_image, docker_client

    tag = build_image(docker_client(), "python", base_image=base_image, offline=offline, force=force, console=console)
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
    from .curricula.config import load_experiment
    from .curricula.runner import ExperimentRunner

    if (experiment is None) == (resume_dir is None):
        raise click.UsageError("give an EXPERIMENT file, or --resume RUN_DIR")
    if resume_dir is not None:
        runner = ExperimentRunner.resume(resume_dir, Console())
    else:
        runner = ExperimentRunner(load_experiment(experiment), output_dir, Console())
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


if __name__ == "__main__":
    main()
