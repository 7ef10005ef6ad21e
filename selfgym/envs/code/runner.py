"""The test runner of ``selfgym/Code-v0``: runs *inside* the sandbox, never imported on the host.

Standard library only. The host runs it as ``python3 -I -c <this source>`` and sends one JSON object on stdin::

    {"nonce": "...", "context": "<prompt imports and helpers>", "solution": "<source>", "entry_point": "f",
     "test_timeout_s": 3.0,
     "suites": [{"name": "visible", "source": "<instrumented test module>", "details": true}, ...]}

Each suite's source defines ``check(candidate)`` whose tests are wrapped by the host in
``with __selfgym_test__(i):`` blocks (and the left side of ``==`` asserts in ``__selfgym_probe__(i, ...)``), so
every test reports on its own and a failing one does not stop the rest.

Results go, one JSON line each, to a private duplicate of the original stdout, every line prefixed with the
nonce; the solution's own stdout/stderr go to /dev/null. The solution runs in this process, so this does not make
faking impossible for code that goes looking for the nonce (frame or ``gc`` introspection); it does make
printing fake results, ``sys.exit(0)``, ``os._exit(0)`` and forking useless: the host counts a test as passed only
when a nonce-signed line from this process says so. The functions that report are bound before the solution
loads, so patching ``json.dumps`` or ``os.write`` does not reach them either.
"""

import json
import linecache
import os
import reprlib
import signal
import sys
import time
import traceback

SOLUTION_FILE = "solution.py"
CONTEXT_FILE = "prompt.py"
MAX_MESSAGE = 500
MAX_TRACEBACK_FRAMES = 6
# bound now: the solution shares our modules and could replace their attributes
_encode = json.JSONEncoder(separators=(",", ":")).encode
_write, _getpid, _exit = os.write, os.getpid, os._exit


class TestTimeout(BaseException):
    """Raised by SIGALRM when one test runs past its limit (a BaseException so ``except Exception`` misses it)."""


def _on_alarm(signum, frame):
    raise TestTimeout()


def _arm(seconds):
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _disarm():
    signal.setitimer(signal.ITIMER_REAL, 0)


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 300
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = _REPR.maxdict = 30
_REPR.maxlevel = 4


def _safe_text(function, value):
    """``function(value)`` where value may come from the solution (its ``__repr__``/``__str__`` may raise)."""
    try:
        return function(value)[:MAX_MESSAGE]
    except BaseException as exc:  # noqa: BLE001 - hostile objects may raise anything
        return "<%s while formatting the value>" % type(exc).__name__


def _describe(exc, tb, details):
    """What a failed test or load reports: the error type, message and the solution's part of the traceback."""
    timed_out = isinstance(exc, TestTimeout)
    record = {"error": "Timeout" if timed_out else type(exc).__name__, "timed_out": timed_out}
    if not details:
        return record
    record["message"] = "" if timed_out else _safe_text(str, exc)
    try:
        frames = [f for f in traceback.extract_tb(tb) if f.filename in (SOLUTION_FILE, CONTEXT_FILE)]
        lines = traceback.StackSummary.from_list(frames).format()  # collapses a recursion's repeated frames
        record["traceback"] = "".join(lines[-MAX_TRACEBACK_FRAMES:])[-2000:]
    except BaseException:  # noqa: BLE001
        record["traceback"] = ""
    return record


def main():
    config = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    nonce = config.pop("nonce")
    runner_pid = os.getpid()
    results_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    signal.signal(signal.SIGALRM, _on_alarm)
    test_timeout_s = float(config["test_timeout_s"])

    def emit(record):
        if _getpid() != runner_pid:  # a child the solution forked: it has no say
            _exit(0)
        data = (nonce + _encode(record) + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[_write(results_fd, view):]

    namespace = {"__name__": "solution", "__builtins__": __builtins__}
    try:
        _arm(test_timeout_s)
        for filename, source in ((CONTEXT_FILE, config["context"]), (SOLUTION_FILE, config["solution"])):
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            exec(compile(source, filename, "exec", dont_inherit=True), namespace)
        _disarm()
        candidate = namespace.get(config["entry_point"])
        if candidate is None:
            raise NameError("your code does not define %r" % config["entry_point"])
    except BaseException as exc:  # noqa: BLE001 - SystemExit, timeouts, anything the solution raises
        _disarm()
        emit(dict(_describe(exc, exc.__traceback__, True), kind="load"))
        emit({"kind": "done"})
        _exit(0)

    for suite in config["suites"]:
        run_suite(suite, namespace, candidate, test_timeout_s, emit, runner_pid)
    emit({"kind": "done"})
    _exit(0)  # do not wait for threads the solution left running, nor run its atexit hooks


def run_suite(suite, namespace, candidate, test_timeout_s, emit, runner_pid):
    name, details = suite["name"], suite["details"]
    outputs = {}

    def probe(index, value):
        outputs[index] = _safe_text(_REPR.repr, value)
        return value

    class TestCase:
        def __init__(self, index):
            self.index = index

        def __enter__(self):
            self.started = time.monotonic()
            _arm(test_timeout_s)

        def __exit__(self, exc_type, exc, tb):
            _disarm()
            if _getpid() != runner_pid:
                _exit(0)
            record = {"kind": "test", "suite": name, "index": self.index, "passed": exc_type is None,
                      "seconds": round(time.monotonic() - self.started, 4)}
            if details and self.index in outputs:
                record["output"] = outputs[self.index]
            if exc_type is not None:
                record.update(_describe(exc, tb, details))
            emit(record)
            return True  # swallow the failure (even SystemExit): the next test runs

    scope = dict(namespace, __selfgym_test__=TestCase, __selfgym_probe__=probe)
    try:
        exec(compile(suite["source"], "<%s tests>" % name, "exec", dont_inherit=True), scope)
        scope["check"](candidate)
    except BaseException as exc:  # noqa: BLE001 - a setup statement of the tests failed
        _disarm()
        emit(dict(_describe(exc, exc.__traceback__, True), kind="suite", suite=name))


if __name__ == "__main__":
    main()
