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

Output is the same text for the same state and command, whatever the scheduler does, as far as bash lets the session
see it. Commands that run one after another write through one pipe (stderr merged into stdout, as a terminal shows
them). Processes that run at the same time (a pipeline's elements, background jobs) would interleave their writes as
they happen to be scheduled, so in a command line that can start them (one holding a lone ``|`` or ``&``, not
``||``, ``&&`` or a redirection) each command of the session's shell writes its stderr to a file of its own, and
the session shows those files in the order of the commands once the commands before them have ended: ``X | Q``
shows X's error, then Q's, every time. There a command's stderr comes after its stdout. Background jobs started by
the command line get up to 0.2 s to end (as long as the sandbox waits for output) before the last files are shown.
Still as they happen: what a job writes after that or to stdout, what processes started inside one command (a
function, a subshell, a script) write at the same time, the whole output of a command line that turns on ``set -x``
(whose trace would show this machinery), and what runs after the first :data:`MAX_CAPTURED` commands of a line (the
checks before each command cost tens of microseconds, which a loop of builtins would pay thousands of times). A
command killed at its timeout shows its stdout, not the stderr it had not finished. And what only the world decides
stays so: ``$$`` and other process ids, ``$RANDOM``, clocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from collections.abc import Mapping

from ...sandbox import ExecResult

if TYPE_CHECKING:
    from ...sandbox import Sandbox

STATE_DIR = "/tmp/.selfgym-shell"

# bash evaluates this from an environment variable (see run_action). The names of the variables bash defines
# itself are noted first, so that only the agent's are saved on exit; the state is sourced at top level, since
# `declare` in a function would make locals.
MAX_CAPTURED = 2000  # commands of one action whose stderr gets a file of its own (see the module docstring)
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
    __selfgym_finish
    unset -f __selfgym_save __selfgym_step __selfgym_flush __selfgym_rotate __selfgym_finish __selfgym_in_pipeline
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
__selfgym_capture= __selfgym_piping= __selfgym_async=${!-} __selfgym_first=1 __selfgym_n=1 __selfgym_held=
__selfgym_commands=0
__selfgym_files=$__selfgym_state/stderr.$BASHPID
__selfgym_concurrent='(^|[^|])[|]([^|]|$)|(^|[^&<>])&([^&>]|$)'  # a pipe or a background job, not || && >& &>
case $__selfgym_action in
    *'set '*-*x*|*xtrace*) ;;  # xtrace would show the machinery below in the output
    *) if [[ $__selfgym_action =~ $__selfgym_concurrent ]]; then __selfgym_capture=1; fi ;;
esac
__selfgym_flush() {  # show the files of the commands that have ended, in order; then (with $1) the next command
    local __selfgym_i __selfgym_end=$__selfgym_n
    if [ -n "$__selfgym_held" ]; then __selfgym_end=$((__selfgym_held - 1)); fi
    for ((__selfgym_i = __selfgym_first; __selfgym_i <= __selfgym_end; __selfgym_i++)); do
        if [ -s "$__selfgym_files/$__selfgym_i" ]; then
            command cat -- "$__selfgym_files/$__selfgym_i" >&$__selfgym_out
            : > "$__selfgym_files/$__selfgym_i"  # shown once, whatever comes next
        fi
    done
    __selfgym_first=$__selfgym_i
    if [ -z "$1" ]; then return 0; fi
    if [ -z "$__selfgym_held" ]; then  # nothing runs any more: start over with file 1
        __selfgym_first=1
        __selfgym_rotate 1
    else
        __selfgym_rotate $((__selfgym_n + 1))
    fi
    return 0
}
__selfgym_rotate() {  # the next command's stderr goes to file $1, emptied first
    if ! [ /dev/fd/2 -ef "$__selfgym_files/$__selfgym_n" ]; then  # the command line redirected stderr itself
        __selfgym_capture=
        return 0
    fi
    __selfgym_n=$1
    exec 2>"$__selfgym_files/$__selfgym_n"
}
__selfgym_step() {  # before each command of this shell: where its stderr goes
    if [[ $BASH_COMMAND == exec[[:space:]]* ]] && ! __selfgym_in_pipeline; then  # the shell is replaced: no EXIT
        __selfgym_finish
        return 0
    fi
    if [ "${!-}" != "$__selfgym_async" ]; then  # the command before started a background job, which keeps its file
        __selfgym_async=${!-}
        if [ -z "$__selfgym_held" ]; then __selfgym_held=$__selfgym_n; fi
    fi
    if __selfgym_in_pipeline; then  # it runs beside the pipeline's other elements: a file of its own
        __selfgym_piping=1
        __selfgym_rotate $((__selfgym_n + 1))
    else  # every command before has ended (a pipeline ends before the next command starts), but background jobs
        __selfgym_piping=
        __selfgym_flush next
    fi
    return 0
}
__selfgym_in_pipeline() {  # bash holds a pipe between a pipeline's elements while it starts them: on fd 3, or on
    [ -p /dev/fd/3 ] || [ -p /dev/fd/4 ]  # fd 4 for the last element of one with three or more
}
__selfgym_finish() {  # at exit (or before `exec`): background jobs get a while to end, then every file left is shown
    if [ -z "$__selfgym_out" ]; then return 0; fi
    __selfgym_capture=
    local __selfgym_wait
    if [ -n "$__selfgym_held" ]; then
        for __selfgym_wait in 1 2 3 4 5 6 7 8 9 10; do
            jobs -rp > "$__selfgym_files/jobs" 2>/dev/null
            [ -s "$__selfgym_files/jobs" ] || break
            command sleep 0.02
        done
    fi
    __selfgym_held=
    __selfgym_flush
    exec 2>&$__selfgym_out {__selfgym_out}>&-
    command rm -rf -- "$__selfgym_files"
    __selfgym_out=
}
if [ -n "$__selfgym_capture" ]; then
    exec {__selfgym_out}>&1
    if mkdir -p -- "$__selfgym_files" 2>/dev/null && exec 2>"$__selfgym_files/1"; then
        # Each check costs (a file's size and a pipe on fd 3 tens of microseconds): past MAX_CAPTURED commands (a
        # loop of builtins), the rest of the command line runs as without the files, at full speed.
        trap 'if (( ++__selfgym_commands > MAX_CAPTURED )) && [[ -z $__selfgym_piping ]]; then __selfgym_finish; fi
              if [[ -z $__selfgym_capture ]]; then trap - DEBUG
              elif [[ -n $__selfgym_piping || ${!-} != "$__selfgym_async" || -s $__selfgym_files/$__selfgym_n ||
                      -p /dev/fd/3 ]]; then __selfgym_step; fi' DEBUG
    else
        exec 2>&$__selfgym_out {__selfgym_out}>&-
        __selfgym_capture= __selfgym_out=
    fi
fi
eval "$__selfgym_action"
""".replace("MAX_CAPTURED", str(MAX_CAPTURED))


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
