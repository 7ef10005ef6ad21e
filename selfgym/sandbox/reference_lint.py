"""A static lint of check scripts: what a check compares with must not be in the agent's reach.

A check judges files the agent wrote; the value it compares them with must live with the verifier (in the check
itself, or in the task's ``tests/``, which only the verifier sees). It must not read it from a file the agent can
rewrite (``sha256sum -c .sums`` next to the files, a digest in ``/work/.expected``), nor compute it from an input the
agent can change (``[ "$(sort out.txt)" = "$(sort data.txt)" ]`` passes once both are empty). The lint flags:

* **hidden reference**: the check reads a file that the task's setup writes and the instruction never names (a
  reference value the agent can rewrite: ``.expected``, ``.sums``);
* **both sides in reach**: a comparison (``[ A = B ]``, ``cmp A B``, ``diff A B``) whose two sides both read files
  in the agent's reach, or one that takes its reference from such a file (``sha256sum -c FILE``,
  ``find -newer FILE``, ``[ A -nt FILE ]``).

It reads shell as text, not as bash would (a heuristic that errs towards flagging); ``selfgym.envs.audit.shell``
plays the attacks themselves. In the agent's reach: relative paths (the check runs in ``/work``), ``/work``,
``/tmp``, ``/logs/agent`` and ``/logs/artifacts``; out of it: ``/tests`` (the verifier's), ``/proc``, ``/dev``, the
image's folders.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterable

# Commands whose (non-option) arguments are files they read; their other words are not paths.
_READERS = frozenset({
    "cat", "tac", "tail", "head", "sort", "uniq", "cut", "paste", "stat", "wc", "find", "ls", "readlink", "realpath",
    "file", "cmp", "diff", "grep", "egrep", "fgrep", "awk", "sed", "tr", "cd", "du", "xxd", "od", "hexdump", "jq",
    "tar", "unzip", "zcat", "gzip", "gunzip", "bzcat", "xzcat", "zipinfo", "sha1sum", "sha256sum", "sha512sum",
    "md5sum", "b2sum", "cksum", "base64", "iconv", "strings", "comm", "join", "nl", "fold", "column",
})
_REDIRECTIONS = frozenset({">", ">>", "<", "2>", "&>", "<<", "<<-", "<<<", ">|"})
# Readers whose first operand is a program or a pattern, not a file.
_PROGRAM_FIRST = frozenset({"grep", "egrep", "fgrep", "awk", "sed", "jq"})
# Options that take the next word as their value.
_VALUED = frozenset({"-c", "-d", "-f", "-t", "-k", "-e", "-n", "-s", "-C", "-name", "-iname", "-path", "-type",
                     "-printf", "-format", "-maxdepth", "-mindepth", "-size", "-mtime", "-perm", "--format"})
_DIGESTS = frozenset({"sha1sum", "sha224sum", "sha256sum", "sha384sum", "sha512sum", "md5sum", "b2sum"})
_OUT_OF_REACH = ("/tests", "/proc", "/dev", "/sys", "/usr", "/bin", "/etc", "/lib", "/opt", "/logs/verifier", "/run")
_COMPARISONS = frozenset({"=", "==", "!=", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-ef", "-nt", "-ot"})
_PATH = re.compile(r"[\w.$@{}+-]+(?:/[\w.$@{}+-]*)*")
_SUBSTITUTION = re.compile(r"\$\(|<\(|`")
_SPLIT = frozenset({"|", "||", "&&", ";", "&", "(", ")", "!", "{", "}", "do", "then", "else", "elif", "if", "while",
                    "until", "for", "in", "done", "fi"})


def reference_problems(check: str, *, setup: str = "", instruction: str = "") -> list[str]:
    """What in ``check`` compares with a value in the agent's reach (see the module docstring); empty when nothing.

    ``setup`` (the script that prepared the agent's files) and ``instruction`` (what the agent was told) let the
    lint tell a hidden reference file from the files the task is about."""
    problems: list[str] = []
    written = setup_writes(setup)
    for number, line in _logical_lines(check):
        for command in _commands(line):
            problems.extend(f"line {number}: {problem}" for problem in _command_problems(command))
        for path in sorted(_reads(line) & written):
            if not _named_in(path, instruction):
                problems.append(f"line {number}: the check reads {path}, which the setup writes where the agent can "
                                "rewrite it and the instruction never names: a reference value must live in the "
                                "check (or the task's tests/), not in the agent's reach")
    return list(dict.fromkeys(problems))


def setup_writes(setup: str) -> set[str]:
    """Files a setup script writes (redirections, ``touch``, ``tee``, the last argument of ``cp``/``mv``/``ln``),
    as written there (relative to ``/work`` or absolute)."""
    written: set[str] = set()
    for _, line in _logical_lines(setup):
        for command in _commands(line):
            words = [word for word in command if not word.startswith("-")]
            for index, word in enumerate(command[:-1]):
                if word in (">", ">>", "&>") and _in_reach(command[index + 1]):
                    written.add(_normal(command[index + 1]))
            if words and words[0] in ("touch", "tee") and len(words) > 1:
                written.update(_normal(word) for word in words[1:] if _in_reach(word) and word not in (">", ">>"))
            if words and words[0] in ("cp", "mv", "ln", "install") and len(words) > 2 and _in_reach(words[-1]):
                written.add(_normal(words[-1]))
    return {path for path in written if path and "$" not in path}


# --- reading shell as text -----------------------------------------------------------------------------------------

def _logical_lines(script: str) -> list[tuple[int, str]]:
    """(number, line) of the lines that hold commands: comments left out, continuation lines joined (numbered as
    their first), heredoc bodies dropped (data, not commands)."""
    lines: list[tuple[int, str]] = []
    pending = ""
    start = 0
    heredoc: str | None = None
    for number, raw in enumerate(script.splitlines(), start=1):
        if heredoc is not None:
            if raw.strip() == heredoc:
                heredoc = None
            continue
        start = start if pending else number
        line = pending + raw
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        pending = ""
        marker = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
        if marker:
            heredoc = marker.group(1)
        if line.lstrip().startswith("#"):
            continue
        lines.append((start, line))
    return lines


def _words(text: str) -> list[str]:
    """Shell words of ``text`` (quotes removed, operators apart); unparseable text gives its whitespace split."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars="|&;()<>")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:
        return text.split()


def _commands(line: str) -> list[list[str]]:
    """The simple commands of a line and of every command substitution in it, as word lists."""
    commands: list[list[str]] = []
    for text in [line, *_substitutions(line)]:
        current: list[str] = []
        for word in _words(text):
            if word in _SPLIT:
                if current:
                    commands.append(current)
                current = []
                continue
            current.append(word)
        if current:
            commands.append(current)
    return commands


def _substitutions(text: str) -> list[str]:
    """The bodies of the ``$(...)``, ``<(...)`` and backquote substitutions in ``text``, nested ones too."""
    bodies: list[str] = []
    for match in _SUBSTITUTION.finditer(text):
        start = match.end()
        if match.group() == "`":
            end = text.find("`", start)
            if end > 0:
                bodies.append(text[start:end])
            continue
        depth, index = 1, start
        while index < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[index], 0)
            index += 1
        bodies.append(text[start:index - 1])
    return [body for body in bodies if body.strip()]


def _in_reach(word: str) -> bool:
    """Whether ``word``, a file operand, names a path in the agent's reach."""
    if not word or word.startswith(("-", "http://", "https://")) or word in ("/dev/null", "-"):
        return False
    if word.startswith("/"):
        return not word.startswith(_OUT_OF_REACH) and word.startswith(("/work", "/tmp", "/logs/"))
    return bool(_PATH.fullmatch(word)) and not word.startswith(("$SELFGYM", "${SELFGYM"))


def _normal(word: str) -> str:
    path = posixpath.normpath(word)
    return path[len("/work/"):] if path.startswith("/work/") else path


def _files_read(command: list[str]) -> list[str]:
    """The files in the agent's reach that ``command`` reads: its operands (for the commands that read files) and
    its input redirection."""
    files = [command[index + 1] for index, word in enumerate(command[:-1]) if word == "<"]
    name = command[0] if command else ""
    if name in _READERS:
        operands: list[str] = []
        words = iter(command[1:])
        for word in words:
            if word in _REDIRECTIONS:
                next(words, None)
            elif word in _VALUED and not (name in _DIGESTS and word == "-c"):
                next(words, None)
            elif not word.startswith("-") or word == "-":
                operands.append(word)
        if name in _PROGRAM_FIRST and "-e" not in command and "-f" not in command:
            operands = operands[1:]
        if name == "tar" and operands and not command[1].startswith("-"):
            operands = operands[1:]  # the old-style key letters (tzf)
        files += operands
    return [_normal(word) for word in files if _in_reach(word)]


def _reads(line: str) -> set[str]:
    return {path for command in _commands(line) for path in _files_read(command)}


def _side_reads(word: str) -> set[str]:
    """Files in reach an operand of a comparison reads: those of the commands it substitutes, or itself."""
    if _SUBSTITUTION.search(word):
        return {path for body in _substitutions(word) for command in _commands(body) for path in _files_read(command)}
    return set()


def _command_problems(command: list[str]) -> Iterable[str]:
    name = command[0] if command else ""
    if name in ("[", "[[", "test"):
        for index, word in enumerate(command[1:-1], start=1):
            if word not in _COMPARISONS:
                continue
            left, right = command[index - 1], command[index + 1]
            if word in ("-nt", "-ot", "-ef") and _in_reach(right):
                yield f"`{left} {word} {right}` compares with a file in the agent's reach"
            elif _side_reads(left) and _side_reads(right):
                yield (f"both sides of `{word}` read files in the agent's reach ({', '.join(sorted(_side_reads(left)))} "
                       f"and {', '.join(sorted(_side_reads(right)))}): the agent can change both")
    elif name in ("cmp", "diff"):
        files = [word for word in command[1:] if not word.startswith("-")]
        if len(files) >= 2 and all(_in_reach(word) for word in files[:2]):
            yield f"`{name}` compares two files in the agent's reach ({files[0]}, {files[1]})"
    elif name in _DIGESTS and ("-c" in command or "--check" in command):
        for path in _files_read(command):
            yield f"`{name} -c {path}` reads its reference digests from a file in the agent's reach"
    elif name == "find":
        for index, word in enumerate(command[:-1]):
            if word in ("-newer", "-anewer", "-cnewer") and _in_reach(command[index + 1]):
                yield f"`find {word} {command[index + 1]}` compares with a file the agent can touch"


def _named_in(path: str, instruction: str) -> bool:
    """Whether the instruction names ``path``: itself, its file name or a folder it lies in (a hidden name must be
    named itself: ``.expected`` in a folder the task is about is still a hidden reference)."""
    parts = [part for part in path.split("/") if part not in ("", ".", "..")]
    if any(part.startswith(".") and part not in instruction for part in parts):
        return False
    return path in instruction or any(re.search(rf"(?<![\w-]){re.escape(part)}(?![\w-])", instruction)
                                      for part in parts)
