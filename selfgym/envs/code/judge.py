"""The judge of a Code-v0 attempt: runs the tests *inside* the sandbox, as the verifier's uid, never the agent's code.

Prepended with ``values.py``; standard library only. The host runs it with :meth:`Sandbox.run_judged`, sending one
JSON object on stdin::

    {"context": "<the task's own helpers>", "solution": "<source>", "prompt_context": "<source>",
     "entry_point": "f", "test_timeout_s": 3.0,
     "suites": [{"name": "visible", "source": "<instrumented test module>", "details": true,
                 "remote": ["f", ...]}, ...]}

The agent's code runs in the *subject* (``subject.py``), another process under the agent's uid, which can neither
trace, signal nor read this one. The test module runs here, after the task's trusted helpers (``context``); the
function under test (``candidate``, and every name in ``remote``) is a proxy that sends the call's arguments to the
subject and turns its reply into plain built-in values. So every ``assert`` compares plain data here, with the
built-in ``__eq__``: an object whose ``__eq__`` is always true, a walk up the stack to the reporting code, a patched
``json`` or a forged result line cannot reach a verdict. Objects that are not plain data stay in the subject;
here they are :class:`RemoteObject` handles, usable through attribute access and calls, never equal to anything
but themselves and with no truth value, so ``assert candidate(x)`` needs a real ``True``.

Each test is wrapped (by the host) in ``with __selfgym_test__(i):`` and reports on its own, one JSON line on
stdout: ``{"kind": "test", "suite", "index", "passed", "seconds", "output", "error", "message", "traceback",
"timed_out"}``; also ``{"kind": "load"}`` (the solution failed to load), ``{"kind": "suite"}`` (the test setup
failed), ``{"kind": "ended", "reason", "during"}`` (the subject died or stopped answering,
during which suite) and ``{"kind": "done"}``.
"""

# ruff: noqa: F821 - values.py (json, encode, decode, dumps, Unencodable) is prepended to this file
import builtins
import os
import reprlib
import select
import sys
import time

MAX_REPLY_LINE = 16 * 1024 * 1024
GRACE_S = 0.5  # past a request's own time limit, how long we wait for the subject's timeout reply
LOAD_TIMEOUT_FACTOR = 1.0
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 300
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = _REPR.maxdict = 30
_REPR.maxlevel = 4


class TestTimeout(BaseException):
    """The function under test ran past the test's time (a BaseException: ``except Exception`` misses it)."""


class SubjectGone(BaseException):
    """The subject died, stopped answering or broke the protocol: no further test can run."""


class CandidateError(Exception):
    """An exception the function under test raised that is not a built-in one (its type name is kept)."""


def exception_from(reply):
    """The exception to raise here for a failed request: the built-in class of that name (so a test may catch
    it), or CandidateError; it carries the subject's description (type name, message, traceback)."""
    report = failure(reply)
    if report["timed_out"]:
        error = TestTimeout()
    else:
        cls = getattr(builtins, report["error"], None)
        error = None
        if isinstance(cls, type) and issubclass(cls, Exception):
            try:
                error = cls(report["message"])
            except BaseException:  # noqa: BLE001 - a built-in that wants other arguments
                error = None
        if error is None:
            error = CandidateError(report["message"])
    error.selfgym_report = report
    return error


def failure(reply):
    """The description of a failure the subject reported, each field bounded."""
    return {"error": str(reply.get("error") or "Error")[:100], "message": str(reply.get("message") or "")[:500],
            "traceback": str(reply.get("traceback") or "")[-2000:], "timed_out": reply.get("timed_out") is True}


class Link:
    """Requests to the subject and their replies, each within a deadline."""

    def __init__(self, read_fd, write_fd):
        self.read_fd, self.write_fd = read_fd, write_fd
        self.buffer = b""
        self.ids = 0
        self.gone = None  # why the subject can no longer be asked anything
        self.callbacks = {}

    def request(self, message, timeout_s, remote):
        if self.gone:
            raise SubjectGone(self.gone)
        self.ids += 1
        message = dict(message, id=self.ids, timeout=max(0.001, timeout_s))
        try:
            view = memoryview(dumps(message))
            while view:
                view = view[os.write(self.write_fd, view):]
        except OSError:
            self.fail("eof")
        deadline = time.monotonic() + timeout_s + GRACE_S
        while True:
            reply = self.receive(deadline)
            if "callback" in reply:
                self.answer_callback(reply, remote)
                continue
            if reply.get("id") != self.ids:
                self.fail("protocol")
            return reply

    def answer_callback(self, reply, remote):
        function = self.callbacks.get(reply.get("callback"))
        try:
            args = [remote.decode(a) for a in reply.get("args") or []]
            kwargs = {str(k): remote.decode(v) for k, v in reply.get("kwargs") or []}
            answer = {"ok": True, "value": remote.encode(function(*args, **kwargs))}
        except Exception as exc:  # noqa: BLE001 - the test's own function failed on the subject's arguments
            answer = {"ok": False, "error": type(exc).__name__}
        view = memoryview(dumps(answer))
        while view:
            view = view[os.write(self.write_fd, view):]

    def receive(self, deadline):
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_REPLY_LINE:
                self.fail("too_large")
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.read_fd], [], [], remaining)[0]:
                self.fail("unresponsive")
            try:
                chunk = os.read(self.read_fd, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                self.fail("eof")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            reply = json.loads(line.decode("utf-8"))
        except (ValueError, RecursionError):
            self.fail("protocol")
        if not isinstance(reply, dict):
            self.fail("protocol")
        return reply

    def fail(self, why):
        self.gone = why
        raise SubjectGone(why)


class Remote:
    """The subject's side as seen from the tests: proxies for its functions and objects, values decoded plainly."""

    def __init__(self, link, deadline):
        self.link = link
        self.deadline = deadline  # a function: the time left for the current test

    def encode(self, value):
        def other(item, depth):
            if isinstance(item, RemoteObject):
                return {"$object": item._selfgym_id}
            if callable(item):
                ident = len(self.link.callbacks) + 1
                self.link.callbacks[ident] = item
                return {"$callback": ident}
            raise Unencodable("a value of type %s cannot be passed to your function" % type(item).__name__)
        return encode(value, other)

    def decode(self, data):
        return decode(data, lambda tag, handle: RemoteObject(self, handle["$object"], str(handle.get("type"))))

    def ask(self, message):
        reply = self.link.request(message, self.deadline(), self)
        if not reply.get("ok"):
            raise exception_from(reply)
        try:
            return self.decode(reply.get("value")), reply.get("args") or {}
        except (ValueError, TypeError, RecursionError, KeyError):
            self.link.fail("protocol")

    def call(self, target, args, kwargs):
        message = dict(target, op="call", args=[self.encode(a) for a in args],
                       kwargs=[[k, self.encode(v)] for k, v in kwargs.items()])
        value, changed = self.ask(message)
        for position, new in changed.items():  # the function changed an argument in place (sort a list...)
            try:
                update_in_place(args[int(position)], self.decode(new))
            except (ValueError, TypeError, IndexError, RecursionError):
                self.link.fail("protocol")
        return value

    def function(self, name):
        remote = self

        def proxy(*args, **kwargs):
            return remote.call({"fn": name}, args, kwargs)

        proxy.__name__ = proxy.__qualname__ = name
        return proxy


def update_in_place(arg, new):
    if type(arg) is list and type(new) is list or type(arg) is bytearray and type(new) is bytearray:
        arg[:] = new
    elif type(arg) is dict and type(new) is dict or type(arg) is set and type(new) is set:
        arg.clear()
        arg.update(new)
    else:
        raise TypeError("not the same kind of container")


class RemoteObject:
    """An object the function under test returned that is not plain data; it stays in the subject."""

    __slots__ = ("_selfgym_remote", "_selfgym_id", "_selfgym_type")

    def __init__(self, remote, ident, type_name):
        object.__setattr__(self, "_selfgym_remote", remote)
        object.__setattr__(self, "_selfgym_id", ident)
        object.__setattr__(self, "_selfgym_type", type_name)

    def _ask(self, op, **fields):
        return self._selfgym_remote.ask(dict(fields, op=op, object=self._selfgym_id))[0]

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._ask("getattr", name=name)

    def __call__(self, *args, **kwargs):
        return self._selfgym_remote.call({"object": self._selfgym_id}, args, kwargs)

    def __len__(self):
        value = self._ask("len")
        if type(value) is not int:
            raise TypeError("len() of a %s object is not an int" % self._selfgym_type)
        return value

    def __iter__(self):
        value = self._ask("iter")
        if type(value) is not list:
            raise TypeError("a %s object cannot be iterated" % self._selfgym_type)
        return iter(value)

    def __getitem__(self, key):
        return self._ask("getitem", key=self._selfgym_remote.encode(key))

    def __contains__(self, item):
        return self._ask("contains", item=self._selfgym_remote.encode(item)) is True

    def __bool__(self):
        raise TypeError("the truth of a %s object cannot be checked: return a plain value (a bool, a number, a "
                        "string, a list...)" % self._selfgym_type)

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    __hash__ = object.__hash__

    def __repr__(self):
        return "<%s object>" % self._selfgym_type

    def __setattr__(self, name, value):
        raise TypeError("a %s object cannot be changed by the tests" % self._selfgym_type)


def main():
    use_site_packages()
    config = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    read_fd, write_fd = (int(fd) for fd in os.environ["SELFGYM_SUBJECT_FDS"].split(","))
    out = os.fdopen(os.dup(1), "w")
    test_timeout_s = float(config["test_timeout_s"])
    link = Link(read_fd, write_fd)
    clock = {"deadline": time.monotonic() + test_timeout_s}
    remote = Remote(link, lambda: clock["deadline"] - time.monotonic())

    def emit(record):
        out.write(json.dumps(record, separators=(",", ":")) + "\n")
        out.flush()

    try:
        reply = link.request({"op": "load", "context": config.get("solution_context", ""),
                              "solution": config["solution"]}, test_timeout_s * LOAD_TIMEOUT_FACTOR, remote)
        if not reply.get("ok"):
            emit(dict(failure(reply), kind="load"))
            emit({"kind": "done"})
            return
    except SubjectGone as gone:
        emit({"kind": "ended", "reason": str(gone), "during": "load"})
        emit({"kind": "done"})
        return
    during = None
    for suite in config["suites"]:
        if link.gone:
            break
        during = suite["name"]
        run_suite(suite, config, remote, clock, test_timeout_s, emit)
    if link.gone:
        emit({"kind": "ended", "reason": link.gone, "during": during})
    emit({"kind": "done"})


def run_suite(suite, config, remote, clock, test_timeout_s, emit):
    name, details = suite["name"], suite["details"]
    outputs = {}
    entry_point = config["entry_point"]

    def probe(index, value):
        try:
            outputs[index] = _REPR.repr(value)[:500]
        except Exception:  # noqa: BLE001 - plain data always has a repr; a RemoteObject has its own
            outputs[index] = "<unprintable>"
        return value

    class TestCase:
        def __init__(self, index):
            self.index = index

        def __enter__(self):
            self.started = time.monotonic()
            clock["deadline"] = self.started + test_timeout_s

        def __exit__(self, exc_type, exc, tb):
            if exc_type is SubjectGone:
                return False  # no further test can run: the host reports them as not run
            record = {"kind": "test", "suite": name, "index": self.index, "passed": exc_type is None,
                      "seconds": round(time.monotonic() - self.started, 4)}
            if details and self.index in outputs:
                record["output"] = outputs[self.index]
            if exc_type is not None:
                record.update(describe(exc, details))
            emit(record)
            return True  # swallow the failure (even SystemExit): the next test runs

    scope = {"__name__": "tests", "__builtins__": builtins}
    try:
        exec(compile(config.get("prompt_context") or "", "<task helpers>", "exec", dont_inherit=True), scope)
        for remote_name in suite.get("remote") or ():
            scope[remote_name] = remote.function(remote_name)
        scope[entry_point] = remote.function(entry_point)
        scope.update(__selfgym_test__=TestCase, __selfgym_probe__=probe)
        exec(compile(suite["source"], "<%s tests>" % name, "exec", dont_inherit=True), scope)
        scope["check"](remote.function(entry_point))
    except SubjectGone:
        return
    except BaseException as exc:  # noqa: BLE001 - a setup statement of the tests failed
        emit(dict(describe(exc, True), kind="suite", suite=name))


def describe(exc, details):
    """A failed test's record: what the function under test raised (as the subject described it), or the
    test's own failure (an assertion)."""
    report = getattr(exc, "selfgym_report", None)
    if report is None:
        timed_out = isinstance(exc, TestTimeout)
        report = {"error": "Timeout" if timed_out else type(exc).__name__, "timed_out": timed_out,
                  "message": "" if timed_out else str(exc)[:500], "traceback": ""}
    if not details:
        return {"error": report["error"], "timed_out": report["timed_out"]}
    return dict(report)


if __name__ == "__main__":
    main()
