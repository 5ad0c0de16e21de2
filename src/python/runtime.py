"""Thaw's Python handler runtime: what a Python function's sandbox runs.

Stdlib only, imported by the zygote server at boot (before it forks anything), so a sandbox
forked from a zygote already holds it. In the sandbox, after the zygote's child entered its
namespaces, root and cgroup and dropped every privilege, serve() imports the function's handler
module (module-level init runs exactly once per sandbox) and answers invocations on the invoke
socket, one at a time, until thawd closes it. Framing and messages: PROTOCOL.md, "Invocations".

Handlers in the styles people already have run unmodified:
  handler(event, context)  AWS Lambda (context: request id, function name, remaining time, memory)
  handler(event)           SeBS benchmark functions
  f(event) in f.py         OpenLambda (the default when the manifest names no handler)
"""

import importlib
import importlib.machinery
import inspect
import json
import os
import socket
import struct
import sys
import time
import traceback

FRAME = struct.Struct(">I")      # every message: a 4-byte big-endian length, then UTF-8 JSON
MAX_FRAME = 64 << 20             # thawd enforces its own (smaller) event limit before sending
DEFAULT_HANDLER = "f.f"          # OpenLambda's convention
CODE_DIR = "/handler"            # the function's code, bound read-only into every sandbox root
PACKAGES = "/packages/"          # the install cache, bound read-only; one dir per NAME-VERSION


class InitError(Exception):
    """The handler could not be loaded: reported to thawd with its phase and traceback."""

    def __init__(self, kind, message, tb=""):
        super().__init__(message)
        self.kind = kind
        self.tb = tb


class Context:
    """AWS Lambda's context object: the fields and the one method handlers actually use."""

    def __init__(self, request_id, function, deadline_ns):
        name = function.get("name", "function")
        self.aws_request_id = request_id
        self.request_id = request_id
        self.function_name = name
        self.function_version = str(function.get("version", "1"))
        self.memory_limit_in_mb = function.get("memory_mb")
        self.invoked_function_arn = f"arn:thaw:function:{name}"
        self.log_group_name = f"/thaw/{name}"
        self.log_stream_name = request_id
        self._deadline_ns = deadline_ns

    def get_remaining_time_in_millis(self):
        if self._deadline_ns is None:
            return 2**31 - 1
        return max(0, (self._deadline_ns - time.monotonic_ns()) // 1_000_000)

    def __repr__(self):
        return f"Context(request_id={self.request_id!r}, function_name={self.function_name!r})"


def read_frame(sock):
    """One message, or None when thawd closed the socket."""
    # thawd sends a frame in one write and waits for the reply before the next, so one recv
    # usually holds all of it: one syscall per call on the warm path, not two.
    first = sock.recv(1 << 16)
    if not first:
        return None
    if len(first) < FRAME.size:
        rest = recv_exactly(sock, FRAME.size - len(first))
        if rest is None:
            raise EOFError("connection closed inside a frame")
        first += rest
    (length,) = FRAME.unpack_from(first)
    if length > MAX_FRAME:
        raise ValueError(f"frame of {length} bytes is over the {MAX_FRAME} byte limit")
    body = first[FRAME.size:]
    if len(body) > length:
        raise ValueError("more bytes than one frame: thawd sends one request at a time")
    if len(body) < length:
        rest = recv_exactly(sock, length - len(body))
        if rest is None or len(rest) < length - len(body):
            raise EOFError("connection closed inside a frame")
        body += rest
    return json.loads(body)


def recv_exactly(sock, n):
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            return None if not chunks else b"".join(chunks)
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


class RawJson(str):
    """A value already serialized (a handler's result): written into its frame as it is."""


def write_frame(sock, message):
    raw = [(key, value) for key, value in message.items() if isinstance(value, RawJson)]
    if raw:
        plain = {key: value for key, value in message.items() if not isinstance(value, RawJson)}
        fields = [json.dumps(plain, separators=(",", ":"), ensure_ascii=False)[1:-1]] if plain else []
        fields += [f"{json.dumps(key)}:{value}" for key, value in raw]
        text = "{" + ",".join(fields) + "}"
    else:
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    body = text.encode()
    sock.sendall(FRAME.pack(len(body)) + body)


def error_of(exc, skip_frames=0):
    """A structured error: type, message and the traceback without the runtime's own frames."""
    tb = exc.__traceback__
    for _ in range(skip_frames):
        if tb is not None:
            tb = tb.tb_next
    return {"type": type(exc).__name__, "message": str(exc),
            "traceback": "".join(traceback.format_exception(type(exc), exc, tb))}


def load(config):
    """Imports the handler module (running its init) and returns (callable, takes_context)."""
    spec = config.get("handler") or DEFAULT_HANDLER
    module_name, _, function_name = spec.rpartition(".")
    if not module_name or not function_name:
        raise InitError("handler", f"handler '{spec}' must be module.function (e.g. main.handler)")
    # The function's code first, then its packages (each its own install-cache dir), then the
    # base image's system packages if it asked for them.
    code_dir = config.get("code_dir", CODE_DIR)
    sys.path[:0] = [code_dir, *config.get("paths", [])]
    forget_shadowed(module_name.split(".")[0], code_dir)
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as e:
        raise InitError("syntax", f"syntax error in {e.filename}, line {e.lineno}: {e.msg}",
                        "".join(traceback.format_exception_only(type(e), e))) from e
    except ModuleNotFoundError as e:
        if e.name == module_name or module_name.startswith(f"{e.name}."):
            raise InitError("handler", f"handler module '{module_name}' not found in the function's code") from e
        raise InitError("import", f"{module_name} imports {e.name}, which is not installed: {e}",
                        error_of(e, 1)["traceback"]) from e
    except BaseException as e:  # module-level init raised (or called exit): the function cannot start
        raise InitError("init", f"{type(e).__name__} while importing {module_name}: {e}", error_of(e, 1)["traceback"]) from e
    function = getattr(module, function_name, None)
    if function is None:
        raise InitError("handler", f"module '{module_name}' has no function '{function_name}'")
    if not callable(function):
        raise InitError("handler", f"'{spec}' is a {type(function).__name__}, not a function")
    return function, takes_context(function)


def forget_shadowed(top, code_dir):
    """A module the zygote imported (json, socket, ...) that the function's code ships under the
    same name: a fresh interpreter would import the function's, so must the sandbox."""
    if top in sys.modules and (os.path.exists(os.path.join(code_dir, top + ".py")) or os.path.isdir(os.path.join(code_dir, top))):
        for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
            del sys.modules[name]


def package_modules(code_dir):
    """The modules loaded from packages (neither the standard library nor the function's own code):
    what the import cache learns a function uses, and what a zygote for it would import. One from
    the install cache is reported as "DIR:name" (DIR its /packages/NAME-VERSION dir), so that two
    versions of a package never count as the same."""
    stdlib = os.path.dirname(os.__file__) + os.sep
    own = code_dir.rstrip(os.sep) + os.sep
    names = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path or path.startswith(stdlib) or path.startswith(own) or name in ("__main__", "thaw_runtime"):
            continue
        if path.startswith(PACKAGES):
            names.append(PACKAGES + path[len(PACKAGES):].split(os.sep, 1)[0] + ":" + name)
        else:
            names.append(name)
    return sorted(names)


def takes_context(function):
    """handler(event, context) or handler(event): decided once, from the signature."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)


def warm():
    """Runs, once, what serving a function touches (the compiler, the import system, inspect, json,
    the framing) in a child parked by the zygote: the copy-on-write faults that Python's refcounts
    cause land now, while nothing waits, instead of on the first request's path."""
    scope = {}
    exec(compile("def handler(event, context=None):\n    return event\n", "<thaw-warm>", "exec"), scope)
    takes_context(scope["handler"])
    json.loads(json.dumps({"op": "ready", "init_ms": 0.5, "modules": ["a"], "ok": True, "none": None}))
    FRAME.unpack(FRAME.pack(1))
    importlib.machinery.PathFinder.find_spec("thaw_warm_no_such_module", ["/"])
    Context("warm", {}, time.monotonic_ns()).get_remaining_time_in_millis()
    try:
        raise ValueError("warm")
    except ValueError as e:
        error_of(e)
    # Reading every loaded module's __file__ touches each module object: with numpy and PIL in the
    # zygote that was ~6 ms of faults at ready time, now taken here.
    package_modules(CODE_DIR)


def serve(fd, config):
    """Loads the handler, says ready (or why not), then serves until thawd closes the socket."""
    # Family and type given: the socket module then asks the kernel nothing about the fd.
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, fd)
    function_info = config.get("function", {})
    sys.dont_write_bytecode = True  # the code dir is read-only: do not even try (-I ignores PYTHONDONTWRITEBYTECODE)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)  # print() reaches the function's log promptly
    started = time.monotonic_ns()
    try:
        handler, with_context = load(config)
    except InitError as e:
        write_frame(sock, {"op": "error", "phase": e.kind, "error": {"type": "InitError", "message": str(e), "traceback": e.tb}})
        return 1
    write_frame(sock, {"op": "ready", "init_ms": (time.monotonic_ns() - started) / 1e6, "pid": os.getpid(),
                       "modules": package_modules(config.get("code_dir", CODE_DIR))})
    while True:
        try:
            request = read_frame(sock)
        except (OSError, EOFError, ValueError):
            return 2
        if request is None:
            return 0
        write_frame(sock, invoke(handler, with_context, request, function_info))


def invoke(handler, with_context, request, function_info):
    request_id = request.get("id", "")
    timeout_ms = request.get("timeout_ms")
    deadline = time.monotonic_ns() + int(timeout_ms) * 1_000_000 if timeout_ms else None
    started = time.monotonic_ns()
    try:
        event = request.get("event")
        if with_context:
            result = handler(event, Context(request_id, function_info, deadline))
        else:
            result = handler(event)
        # Serialized once, here: a result that is not JSON is the handler's error, not the runtime's.
        reply = {"op": "result", "id": request_id, "result": RawJson(json.dumps(result, separators=(",", ":"), ensure_ascii=False))}
    except BaseException as e:  # noqa: B036 -- sys.exit() in a handler is an error, not our exit
        reply = {"op": "error", "id": request_id, "error": error_of(e, 1)}
        if isinstance(e, TypeError) and "JSON serializable" in str(e):
            reply["error"]["message"] = f"the handler's result is not JSON: {e}"
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    reply["ms"] = (time.monotonic_ns() - started) / 1e6
    return reply
