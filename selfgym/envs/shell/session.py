"""One command of an agent's bash session, run in a fresh ``bash`` that takes over the previous one's state.

Every action runs in its own process (the sandbox runs commands, it does not hold a terminal), so the
session's state is saved after each command and restored before the next one:

* persists: the working directory, exported variables, shell variables and functions the agent defined;
* does not persist: shell options (``set -e``), aliases, traps, the directory stack, and background jobs,
  which are killed when the command ends unless the task keeps them (``keep_background``, the ``processes``
  tasks);
* a command that times out or is killed leaves the state as the previous command left it.

The state lives in ``/tmp/.selfgym-shell`` inside the sandbox; the action reaches bash through an environment
variable rather than ``argv``, so ``pkill -f PATTERN`` does not match (and kill) the shell running it.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...sandbox import ExecResult, Sandbox

STATE_DIR = "/tmp/.selfgym-shell"

# bash evaluates this from an environment variable (see run_action). The names of the variables bash defines
# itself are noted first, so that only the agent's are saved on exit; the state is sourced at top level, since
# `declare` in a function would make locals.
SESSION_SCRIPT = r"""
__selfgym_action=$SELFGYM_ACTION
__selfgym_state=$SELFGYM_STATE_DIR
unset SELFGYM_ACTION SELFGYM_SESSION SELFGYM_STATE_DIR
__selfgym_builtin_names=$'\n'"$(compgen -v)"$'\n'
if [ -r "$__selfgym_state/vars" ]; then . "$__selfgym_state/vars" 2>/dev/null; fi
if IFS= read -r -d '' __selfgym_cwd 2>/dev/null < "$__selfgym_state/cwd"; then
    cd -- "$__selfgym_cwd" 2>/dev/null || cd /work
fi
__selfgym_save() {
    { __selfgym_rc=$?; set +euvx; } 2>/dev/null
    unset -f __selfgym_save
    local __selfgym_name __selfgym_new=()
    for __selfgym_name in $(compgen -v); do
        case "$__selfgym_builtin_names" in *$'\n'"$__selfgym_name"$'\n'*) continue ;; esac
        case "$__selfgym_name" in __selfgym_*|BASH_*|FUNCNAME|PIPESTATUS|_) continue ;; esac
        __selfgym_new+=("$__selfgym_name")
    done
    [ -d "$__selfgym_state" ] || mkdir -p "$__selfgym_state" 2>/dev/null
    {
        export -p
        if [ ${#__selfgym_new[@]} -gt 0 ]; then declare -p "${__selfgym_new[@]}"; fi
        declare -f
    } > "$__selfgym_state/vars.new" 2>/dev/null && mv -f "$__selfgym_state/vars.new" "$__selfgym_state/vars"
    printf "%s\0" "$PWD" > "$__selfgym_state/cwd" 2>/dev/null
    exit $__selfgym_rc
}
trap '{ __selfgym_save; } 2>/dev/null' EXIT
exec 2>&1
eval "$__selfgym_action"
"""


def run_action(sandbox: Sandbox, action: str, *, timeout_s: float | None = None, keep_background: bool = False,
               cwd: str | None = None, env: Mapping[str, str] | None = None) -> ExecResult:
    """Run one agent command in the session; stdout and stderr come back interleaved in ``stdout``.

    ``cwd`` is where the session starts (its first command; later ones start where the previous one ended), and
    ``env`` holds variables every command gets (a task's environment).
    """
    env = {**(env or {}), "SELFGYM_SESSION": SESSION_SCRIPT, "SELFGYM_ACTION": action,
           "SELFGYM_STATE_DIR": STATE_DIR}
    return sandbox.run(["/bin/bash", "-c", 'eval "$SELFGYM_SESSION"', "bash"], env=env, timeout_s=timeout_s,
                       keep_background=keep_background, cwd=cwd)


def clip_middle(text: str, max_chars: int) -> str:
    """``text`` cut to about ``max_chars`` by dropping its middle (the start and the end say the most)."""
    if len(text) <= max_chars:
        return text
    head = max_chars * 2 // 3
    tail = max_chars - head
    omitted = len(text) - head - tail
    return f"{text[:head]}\n[... {omitted:,} characters omitted ...]\n{text[-tail:]}"


def describe(result: ExecResult, *, max_chars: int) -> str:
    """What the agent sees of a command: its output, then how it ended (exit code, timeout, limits hit)."""
    output = clip_middle(result.stdout + result.stderr, max_chars)
    if output and not output.endswith("\n"):
        output += "\n"
    notes = []
    if result.timed_out:
        seconds = f"{result.duration_s:.0f}" if result.duration_s >= 1 else f"{result.duration_s:.1f}"
        notes.append(f"[timed out after {seconds} s: the command was killed, with every process in the "
                     "sandbox]")
    if result.oom_killed:
        notes.append("[a process was killed: out of memory]")
    if result.pids_limited:
        notes.append("[the process limit was reached: every process was killed]")
    if result.disk_full:
        notes.append("[the disk is full]")
    if not result.timed_out:
        notes.append(f"[exit code {result.exit_code}]")
    return output + "\n".join(notes)
