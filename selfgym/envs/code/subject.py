"""The subject of a Code-v0 attempt: runs the agent's code *inside* the sandbox, as the agent's uid.

Prepended with ``values.py``; standard library only. Its stdin and stdout are pipes to the judge (``judge.py``,
another process under another uid), which sends one JSON request a line and reads one reply a line:

    {"id": 1, "op": "load", "context": "...", "solution": "...", "timeout": 3.0}
    {"id": 2, "op": "call", "fn": "add", "args": [...], "kwargs": [[name, value], ...], "timeout": 2.5}
    {"id": 3, "op": "call", "object": 4, "args": [...], ...}          call an object kept here
    {"id": 4, "op": "getattr" | "len" | "iter" | "getitem" | "contains" | "repr", "object": 4, ...}

and answers ``{"id": .., "ok": true, "value": <tagged value>, "args": {position: new value}}`` or
``{"id": .., "ok": false, "error": "ValueError", "message": "...", "traceback": "...", "timed_out": false}``.
A function the judge passes as an argument arrives as ``{"$callback": n}`` and becomes a stub here that asks the
judge (``{"callback": n, "args": [...]}``) and waits for its answer.

Nothing this process says is trusted: the judge keeps the tests and the expected values, decodes only plain data, and
makes every comparison itself. What this file does is make a *correct* solution's results arrive intact: any value
that is not plain data stays here as an object the judge can only use through these requests.
"""

# ruff: noqa: F821 - values.py (json, encode, decode, dumps, Unencodable) is prepended to this file
import os
import signal

SOLUTION_FILE = "solution.py"
CONTEXT_FILE = "prompt.py"
MAX_MESSAGE = 500
MAX_TRACEBACK_FRAMES = 6
MAX_LINE = 16 * 1024 * 1024
_write, _read, _exit = os.write, os.read, os._exit


class TestTimeout(BaseException):
    """Raised by SIGALRM when a request runs past its time (a BaseException so ``except Exception`` misses it)."""


def _on_alarm(signum, frame):
    raise TestTimeout()


def _arm(seconds):
    signal.setitimer(signal.ITIMER_REAL, max(0.001, float(seconds)))


def _disarm():
    signal.setitimer(signal.ITIMER_REAL, 0)


class Link:
    """Lines to and from the judge, over file descriptors bound before the agent's code runs."""

    def __init__(self, read_fd, write_fd):
        self.read_fd, self.write_fd = read_fd, write_fd
        self.buffer = b""

    def send(self, message):
        view = memoryview(dumps(message))
        while view:
            view = view[_write(self.write_fd, view):]

    def receive(self):
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_LINE:
                _exit(3)
            chunk = _read(self.read_fd, 1 << 16)
            if not chunk:
                _exit(0)  # the judge is gone
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line.decode("utf-8"))


class Subject:
    def __init__(self, link):
        self.link = link
        self.namespace = {"__name__": "solution", "__builtins__": __builtins__}
        self.objects = {}
        self.sources = {}  # file name -> source, for tracebacks

    # -- values -------------------------------------------------------------------------------------------------

    def keep(self, value, depth=0):
        """The tag of ``value``: plain data as itself, an iterator drained, anything else kept here as an object."""
        if hasattr(value, "__next__") and hasattr(value, "__iter__"):
            items = []
            for item in value:
                items.append(item)
                if len(items) > MAX_ITEMS:
                    raise Unencodable("the iterator returned more than %d items" % MAX_ITEMS)
            return {"$iter": [encode(item, self.keep, depth + 1) for item in items]}
        for base in (bool, int, float, str, list, tuple, dict, set, frozenset, bytes):  # subclasses, numpy scalars
            if isinstance(value, base):
                return encode(base(value), self.keep, depth)
        tolist, item = getattr(value, "tolist", None), getattr(value, "item", None)
        if callable(tolist) and type(value).__module__ == "numpy":
            return encode(tolist(), self.keep, depth)
        if callable(item) and type(value).__module__ == "numpy":
            return encode(item(), self.keep, depth)
        ident = len(self.objects) + 1
        self.objects[ident] = value
        return {"$object": ident, "type": type(value).__name__[:100]}

    def decode_arg(self, data):
        return decode(data, self.stub)

    def stub(self, tag, data):
        if tag == "$object":
            return self.objects[data["$object"]]
        ident, link, keep = data["$callback"], self.link, self.keep

        def callback(*args, **kwargs):
            link.send({"callback": ident, "args": [encode(a, keep) for a in args],
                       "kwargs": [[k, encode(v, keep)] for k, v in kwargs.items()]})
            reply = link.receive()
            if reply.get("ok"):
                return decode(reply.get("value"), self.stub)
            raise RuntimeError("the test's function raised %s" % reply.get("error"))

        return callback

    # -- requests -----------------------------------------------------------------------------------------------

    def load(self, request):
        for filename, source in ((CONTEXT_FILE, request.get("context") or ""), (SOLUTION_FILE, request["solution"])):
            self.sources[filename] = source
            exec(compile(source, filename, "exec", dont_inherit=True), self.namespace)
        return None

    def target(self, request):
        if "object" in request:
            return self.objects[request["object"]]
        name = request["fn"]
        if name not in self.namespace:
            raise NameError("your code does not define %r" % name)
        return self.namespace[name]

    def call(self, request):
        function = self.target(request)
        args = [self.decode_arg(a) for a in request.get("args", [])]
        kwargs = {str(k): self.decode_arg(v) for k, v in request.get("kwargs", [])}
        before = [encode(a, self.keep) if isinstance(a, (list, dict, set, bytearray)) else None for a in args]
        value = function(*args, **kwargs)
        changed = {}
        for position, (arg, old) in enumerate(zip(args, before)):
            if old is not None:
                new = encode(arg, self.keep)
                if new != old:
                    changed[str(position)] = new
        return value, changed

    def handle(self, request):
        op = request.get("op")
        if op == "load":
            return self.load(request), {}
        if op == "call":
            return self.call(request)
        target = self.target(request)
        if op == "getattr":
            return getattr(target, str(request["name"])), {}
        if op == "len":
            return len(target), {}
        if op == "iter":
            return list(target), {}
        if op == "getitem":
            return target[self.decode_arg(request["key"])], {}
        if op == "contains":
            return self.decode_arg(request["item"]) in target, {}
        if op == "repr":
            return repr(target)[:MAX_MESSAGE], {}
        raise ValueError("unknown request %r" % op)

    def serve(self):
        while True:
            request = self.link.receive()
            reply = {"id": request.get("id")}
            try:
                _arm(request.get("timeout") or 3.0)
                try:
                    value, changed = self.handle(request)
                    reply.update(ok=True, value=encode(value, self.keep), args=changed)
                finally:
                    _disarm()
            except BaseException as exc:  # noqa: BLE001 - SystemExit, timeouts, anything the solution raises
                _disarm()
                reply = dict(describe(exc, self.sources), id=request.get("id"), ok=False)
            try:
                self.link.send(reply)
            except (ValueError, TypeError):  # e.g. a message that is not text
                self.link.send({"id": request.get("id"), "ok": False, "error": "TypeError",
                                "message": "the result could not be sent", "traceback": "", "timed_out": False})


def safe_text(function, value):
    """``function(value)``, where value comes from the solution (its ``__str__`` may raise or loop)."""
    try:
        return str(function(value))[:MAX_MESSAGE]
    except BaseException as exc:  # noqa: BLE001 - hostile objects may raise anything
        return "<%s while formatting the value>" % type(exc).__name__


def describe(exc, sources):
    """What a failed request reports: the error type, message and the solution's part of the traceback."""
    timed_out = isinstance(exc, TestTimeout)
    record = {"error": "Timeout" if timed_out else type(exc).__name__[:100], "timed_out": timed_out,
              "message": "" if timed_out else safe_text(str, exc), "traceback": ""}
    try:
        import linecache  # only when something failed: with traceback, a tenth of the start-up
        import traceback

        for filename, source in sources.items():
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in (SOLUTION_FILE, CONTEXT_FILE)]
        lines = traceback.StackSummary.from_list(frames).format()  # collapses a recursion's repeated frames
        record["traceback"] = "".join(lines[-MAX_TRACEBACK_FRAMES:])[-2000:]
    except BaseException:  # noqa: BLE001
        pass
    return record


def main():
    use_site_packages()
    link = Link(os.dup(0), os.dup(1))  # private copies: the solution's prints must not reach the judge
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    signal.signal(signal.SIGALRM, _on_alarm)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))
    Subject(link).serve()


if __name__ == "__main__":
    main()
