"""The Python handler runtime (src/python/runtime.py) in sandboxes forked by a real zygote.

Run as root: python3 -m unittest discover -s tests/python  (the xunit suite runs it too).
Each test deploys a small function into a temp dir, spawns it with a runtime request and talks
to it over the invoke socket with the framing PROTOCOL.md describes.
"""

import os
import shutil
import socket
import struct
import tempfile
import textwrap
import time
import unittest
import json

from test_zygote import PROTOCOL_VERSION, ZygoteClient, build_native, read_all

FRAME = struct.Struct(">I")


def write_frame(sock, message):
    body = json.dumps(message).encode()
    sock.sendall(FRAME.pack(len(body)) + body)


def read_frame(sock):
    header = sock.recv(4, socket.MSG_WAITALL)
    if not header:
        return None
    body = sock.recv(FRAME.unpack(header)[0], socket.MSG_WAITALL)
    return json.loads(body)


class RuntimeTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_dir = tempfile.mkdtemp(prefix="thaw-test-native-")
        cls.native = build_native(cls.build_dir)
        cls.zygote = ZygoteClient(cls.native, "fork")
        cls.zygote.send({"op": "hello", "version": PROTOCOL_VERSION})
        assert cls.zygote.receive()["op"] == "hello"
        cls.count = 0

    @classmethod
    def tearDownClass(cls):
        cls.zygote.close()
        shutil.rmtree(cls.build_dir)

    def setUp(self):
        self.code = tempfile.mkdtemp(prefix="thaw-test-fn-")
        os.chmod(self.code, 0o755)

    def tearDown(self):
        shutil.rmtree(self.code)

    def deploy(self, files, handler=None):
        for name, text in files.items():
            path = os.path.join(self.code, name)
            with open(path, "w") as f:
                f.write(textwrap.dedent(text))
            os.chmod(path, 0o644)
        type(self).count += 1
        sid = f"fn{self.count}"
        here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        z = self.zygote
        runtime = {"code_dir": self.code, "function": {"name": "demo", "version": "3", "memory_mb": 128}}
        if handler:
            runtime["handler"] = handler
        out, err, start = z.spawn(sid, [], runtime=runtime, fds=["root", "netns", "stdin", "stdout", "stderr", "start", "invoke"], extra_fds=[there.fileno()])
        there.close()
        os.close(start)
        here.settimeout(10)
        return sid, here, out, err

    def finish(self, sid, sock, out, err):
        sock.close()  # thawd closing the socket ends the sandbox
        exit_ = self.zygote.wait_for("exit", sid)
        return exit_, read_all(out), read_all(err)

    def call(self, sock, event, rid="r1", timeout_ms=None):
        write_frame(sock, {"op": "invoke", "id": rid, "event": event, **({"timeout_ms": timeout_ms} if timeout_ms else {})})
        return read_frame(sock)

    def test_aws_style_handler_gets_event_and_context(self):
        sid, sock, out, err = self.deploy({"lambda_function.py": """
            def lambda_handler(event, context):
                return {"got": event, "id": context.aws_request_id, "name": context.function_name,
                        "version": context.function_version, "memory": context.memory_limit_in_mb,
                        "remaining": context.get_remaining_time_in_millis(), "arn": context.invoked_function_arn}
            """}, handler="lambda_function.lambda_handler")
        self.assertEqual("ready", read_frame(sock)["op"])
        reply = self.call(sock, {"x": [1, 2]}, rid="req-7", timeout_ms=3000)
        self.assertEqual("result", reply["op"])
        result = reply["result"]
        self.assertEqual({"x": [1, 2]}, result["got"])
        self.assertEqual(("req-7", "demo", "3", 128), (result["id"], result["name"], result["version"], result["memory"]))
        self.assertTrue(0 < result["remaining"] <= 3000)
        self.assertEqual("arn:thaw:function:demo", result["arn"])
        exit_, _, _ = self.finish(sid, sock, out, err)
        self.assertEqual(0, exit_["code"])

    def test_the_sandbox_holds_no_descriptor_but_its_stdio_and_invoke_socket(self):
        sid, sock, out, err = self.deploy({"f.py": """
            import os
            def f(event):
                return sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
            """})
        read_frame(sock)
        fds = self.call(sock, None)["result"]
        self.assertEqual([0, 1, 2], fds[:3])
        self.assertEqual(5, len(fds), fds)  # + the invoke socket + listdir's own directory fd
        self.finish(sid, sock, out, err)

    def test_sebs_style_handler_gets_the_event_only(self):
        sid, sock, out, err = self.deploy({"function.py": """
            def handler(event):
                return {"doubled": event["n"] * 2}
            """}, handler="function.handler")
        read_frame(sock)
        self.assertEqual({"doubled": 42}, self.call(sock, {"n": 21})["result"])
        self.finish(sid, sock, out, err)

    def test_openlambda_style_f_in_f_py_is_the_default(self):
        sid, sock, out, err = self.deploy({"f.py": """
            def f(event):
                return "hello " + event
            """})
        read_frame(sock)
        self.assertEqual("hello thaw", self.call(sock, "thaw")["result"])
        self.finish(sid, sock, out, err)

    def test_module_init_runs_once_and_print_goes_to_the_log(self):
        sid, sock, out, err = self.deploy({"main.py": """
            import sys
            print("init")
            calls = 0
            def handler(event, context):
                global calls
                calls += 1
                print("call", calls)
                print("warn", file=sys.stderr)
                return calls
            """}, handler="main.handler")
        ready = read_frame(sock)
        self.assertEqual("ready", ready["op"])
        self.assertEqual([1, 2, 3], [self.call(sock, None)["result"] for _ in range(3)])
        exit_, stdout, stderr = self.finish(sid, sock, out, err)
        self.assertEqual("init\ncall 1\ncall 2\ncall 3\n", stdout)
        self.assertEqual("warn\n" * 3, stderr)

    def test_an_exception_comes_back_structured_with_its_traceback_and_the_sandbox_keeps_serving(self):
        sid, sock, out, err = self.deploy({"main.py": """
            def helper(x):
                return 1 / x
            def handler(event):
                return helper(event)
            """}, handler="main.handler")
        read_frame(sock)
        reply = self.call(sock, 0)
        self.assertEqual("error", reply["op"])
        error = reply["error"]
        self.assertEqual("ZeroDivisionError", error["type"])
        self.assertEqual("division by zero", error["message"])
        self.assertIn("in helper", error["traceback"])
        self.assertIn("return 1 / x", error["traceback"])
        self.assertNotIn("runtime.py", error["traceback"])  # the runtime's own frames are cut
        self.assertEqual(0.5, self.call(sock, 2)["result"])
        self.finish(sid, sock, out, err)

    def test_a_result_that_is_not_json_is_a_clear_error(self):
        sid, sock, out, err = self.deploy({"main.py": """
            def handler(event):
                return {1, 2}
            """}, handler="main.handler")
        read_frame(sock)
        reply = self.call(sock, None)
        self.assertEqual("error", reply["op"])
        self.assertIn("not JSON", reply["error"]["message"])
        self.finish(sid, sock, out, err)

    def assert_init_error(self, files, handler, phase, *needles):
        sid, sock, out, err = self.deploy(files, handler=handler)
        reply = read_frame(sock)
        self.assertEqual(("error", phase), (reply["op"], reply["phase"]), reply)
        for needle in needles:
            self.assertIn(needle, reply["error"]["message"] + reply["error"]["traceback"])
        self.assertIsNone(read_frame(sock))  # and it is gone
        exit_, _, _ = self.finish(sid, sock, out, err)
        self.assertEqual(1, exit_["code"])

    def test_a_syntax_error_is_reported_with_file_and_line(self):
        self.assert_init_error({"main.py": "def handler(event):\n    return (\n"}, "main.handler", "syntax", "main.py", "line 2")

    def test_an_import_error_names_the_missing_module(self):
        self.assert_init_error({"main.py": "import not_installed_anywhere\ndef handler(e):\n    return e\n"}, "main.handler", "import",
                               "not_installed_anywhere")

    def test_a_missing_handler_module_or_function_is_named(self):
        self.assert_init_error({"main.py": "x = 1\n"}, "nope.handler", "handler", "handler module 'nope' not found")
        self.assert_init_error({"main.py": "x = 1\n"}, "main.handler", "handler", "module 'main' has no function 'handler'")
        self.assert_init_error({"main.py": "handler = 5\n"}, "main.handler", "handler", "not a function")

    def test_init_that_raises_is_reported_with_its_traceback(self):
        self.assert_init_error({"main.py": "raise RuntimeError('no config')\n"}, "main.handler", "init", "RuntimeError", "no config")


class ParkedChildTests(unittest.TestCase):
    """A zygote keeps a child forked ahead and gives thawd its socket: thawd sends the spawn straight
    to the child (no zygote hop); the zygote learns of it from the child's status pipe."""

    def setUp(self):
        self.build_dir = tempfile.mkdtemp(prefix="thaw-test-native-")
        self.code = tempfile.mkdtemp(prefix="thaw-test-fn-")
        os.chmod(self.code, 0o755)
        with open(os.path.join(self.code, "f.py"), "w") as f:
            f.write("import os\ndef f(event):\n    return [os.getpid(), os.getuid()]\n")
        self.z = ZygoteClient(build_native(self.build_dir), "fork", parked=1)
        self.z.send({"op": "hello", "version": PROTOCOL_VERSION})
        self.z.wait_for("hello", None)

    def tearDown(self):
        if self.z is not None:
            self.z.close()
        shutil.rmtree(self.build_dir)
        shutil.rmtree(self.code)

    def spawn_direct(self, sid, **extra):
        pid, sock = self.z.wait_parked()
        self.assertEqual([pid], wait_children(self.z.proc.pid, 1))
        here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out, err, start = self.z.spawn(sid, [], runtime={"code_dir": self.code}, fds=["root", "netns", "stdin", "stdout", "stderr", "start", "invoke"],
                                       extra_fds=[there.fileno()], to=sock, **extra)
        sock.close()
        there.close()
        os.close(start)
        return pid, here, out, err

    def test_a_parked_child_claimed_directly_becomes_the_sandbox_and_another_is_parked(self):
        pid, here, out, err = self.spawn_direct("p1")
        self.assertEqual(pid, self.z.wait_for("started", None, pid)["pid"])  # named by pid: the zygote never saw the request
        here.settimeout(10)
        self.assertEqual("ready", read_frame(here)["op"])
        write_frame(here, {"op": "invoke", "id": "r", "event": None})
        self.assertEqual([1, 65534], read_frame(here)["result"])  # pid 1 of its own namespace, unprivileged
        here.close()
        self.assertEqual(0, self.z.wait_for("exit", None, pid)["code"])
        read_all(out), read_all(err)
        refilled, sock = self.z.wait_parked()  # parked again once idle, its socket given to us again
        self.assertNotEqual(pid, refilled)
        sock.close()
        self.z.close()
        self.z = None
        self.assertFalse(os.path.exists(f"/proc/{refilled}"))  # the zygote's exit took its parked child along

    def test_what_a_parked_child_copies_is_charged_to_the_cgroup_it_joined(self):
        # It waits for the join before it warms up and pre-faults: those pages are its sandbox's, and a
        # page stays charged to the cgroup that first touched it (a v1 move does not take charges along).
        v1 = "/sys/fs/cgroup/memory"
        if os.path.isdir(v1):
            cgroup, usage = f"{v1}/thaw-test-charge-{os.getpid()}", "memory.usage_in_bytes"
        elif os.path.exists("/sys/fs/cgroup/cgroup.subtree_control") and "memory" in open("/sys/fs/cgroup/cgroup.subtree_control").read():
            cgroup, usage = f"/sys/fs/cgroup/thaw-test-charge-{os.getpid()}", "memory.current"
        else:
            self.skipTest("no memory cgroup controller to charge to")
        os.mkdir(cgroup)
        self.addCleanup(os.rmdir, cgroup)
        # A zygote that parks only once told what to pre-fault: its whole heap, as a touch profile.
        self.z.close()
        self.z = ZygoteClient(build_native(self.build_dir), "fork", parked=0)
        self.z.send({"op": "hello", "version": PROTOCOL_VERSION})
        self.z.wait_for("hello", None)
        heap = next(line.split()[0] for line in open(f"/proc/{self.z.proc.pid}/maps") if line.rstrip().endswith("[heap]"))
        lo, hi = (int(x, 16) for x in heap.split("-"))
        self.z.send({"op": "profile", "ranges": [[lo, (hi - lo) // os.sysconf("SC_PAGE_SIZE")]]})
        self.z.send({"op": "park", "target": 1})
        pid, sock = self.z.wait_parked(join=False)
        time.sleep(0.2)  # were anything copied before the join, it would be the zygote's by now
        procs = os.open(os.path.join(cgroup, "cgroup.procs"), os.O_WRONLY)
        socket.send_fds(sock, [b'{"op":"join"}'], [procs])
        os.close(procs)
        deadline = time.monotonic() + 10
        # Its pre-faults copy megabytes of the zygote's heap; the joined cgroup holds them.
        while int(open(os.path.join(cgroup, usage)).read()) < 2 << 20:
            self.assertLess(time.monotonic(), deadline, "the parked child's pre-faults were not charged to its cgroup")
            time.sleep(0.02)
        sock.close()
        while os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split()[2] != "Z":
            self.assertLess(time.monotonic(), deadline + 10, "the parked child did not exit when its socket closed")
            time.sleep(0.01)
        self.z.wait_for("exit", None, pid)

    def test_a_parked_child_joins_the_cgroup_thawd_gives_it_while_it_waits(self):
        hierarchy = "/sys/fs/cgroup/pids" if os.path.isdir("/sys/fs/cgroup/pids") else "/sys/fs/cgroup"  # v1, else cgroup2
        cgroup = f"{hierarchy}/thaw-test-join-{os.getpid()}"
        os.mkdir(cgroup)
        self.addCleanup(os.rmdir, cgroup)
        pid, sock = self.z.wait_parked(join=False)
        procs = os.open(os.path.join(cgroup, "cgroup.procs"), os.O_WRONLY)
        socket.send_fds(sock, [b'{"op":"join"}'], [procs])
        os.close(procs)
        deadline = time.monotonic() + 10
        while str(pid) not in open(os.path.join(cgroup, "cgroup.procs")).read().split():
            self.assertLess(time.monotonic(), deadline, "the parked child did not join its cgroup")
            time.sleep(0.01)
        # Then it becomes a sandbox with no cgroup fd in its spawn, and stays in the one it joined.
        here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out, err, start = self.z.spawn("p5", [], runtime={"code_dir": self.code}, fds=["root", "netns", "stdin", "stdout", "stderr", "start", "invoke"],
                                       extra_fds=[there.fileno()], to=sock)
        sock.close(), there.close(), os.close(start)
        here.settimeout(10)
        self.assertEqual("ready", read_frame(here)["op"])
        self.assertEqual([str(pid)], open(os.path.join(cgroup, "cgroup.procs")).read().split())
        here.close()
        self.assertEqual(0, self.z.wait_for("exit", None, pid)["code"])
        read_all(out), read_all(err)

    def test_a_bad_request_sent_to_a_parked_child_is_an_exit_with_the_error(self):
        pid, here, out, err = self.spawn_direct("p2", namespaces=["ipc", "pid", "bogus"])
        exit = self.z.wait_for("exit", None, pid)
        self.assertEqual(126, exit["code"])
        self.assertIn("unknown namespaces", exit["error"])
        here.close(), read_all(out), read_all(err)

    def test_a_directly_claimed_child_is_killed_by_pid(self):
        with open(os.path.join(self.code, "f.py"), "w") as f:
            f.write("import time\ntime.sleep(60)\n")  # hangs in its import: never ready
        pid, here, out, err = self.spawn_direct("p3")
        self.z.send({"op": "kill", "id": "p3", "pid": pid, "signal": 9})
        self.assertEqual(9, self.z.wait_for("exit", None, pid)["signal"])
        here.close(), read_all(out), read_all(err)

    def test_the_zygote_itself_forks_when_thawd_sends_it_the_spawn(self):
        parked, parked_sock = self.z.wait_parked()
        self.addCleanup(parked_sock.close)
        here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out, err, start = self.z.spawn("p4", [], runtime={"code_dir": self.code}, fds=["root", "netns", "stdin", "stdout", "stderr", "start", "invoke"],
                                       extra_fds=[there.fileno()])
        there.close(), os.close(start)
        pid = self.z.wait_for("spawned", "p4")["pid"]
        self.assertNotEqual(parked, pid)  # the parked one is thawd's to claim: the zygote forked
        here.settimeout(10)
        self.assertEqual("ready", read_frame(here)["op"])
        here.close()
        self.assertEqual(0, self.z.wait_for("exit", "p4")["code"])
        read_all(out), read_all(err)


class MorulaTests(unittest.TestCase):
    """Morula: sandboxes of a fresh-mode zygote are exec'd interpreters, each with its own ASLR layout."""

    MAPS = "def f(event):\n    for line in open('/proc/self/maps'):\n        if 'libc' in line:\n            return line.split('-')[0]\n"

    def setUp(self):
        self.build_dir = tempfile.mkdtemp(prefix="thaw-test-native-")
        self.root = ZygoteClient(build_native(self.build_dir), "fork", parked=0)
        self.root.send({"op": "hello", "version": PROTOCOL_VERSION})
        self.root.receive()
        self.code = tempfile.mkdtemp(prefix="thaw-test-fn-")
        os.chmod(self.code, 0o755)
        with open(os.path.join(self.code, "f.py"), "w") as f:
            f.write(self.MAPS)

    def tearDown(self):
        self.root.close()
        shutil.rmtree(self.build_dir)
        shutil.rmtree(self.code)

    def libc_of(self, zygote, sid):
        here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out, err, start = zygote.spawn(sid, [], runtime={"code_dir": self.code}, fds=["root", "netns", "stdin", "stdout", "stderr", "start", "invoke"],
                                       extra_fds=[there.fileno()])
        there.close()
        os.close(start)
        here.settimeout(20)
        ready = read_frame(here)
        self.assertEqual("ready", ready["op"], ready)
        write_frame(here, {"op": "invoke", "id": "r", "event": None})
        reply = read_frame(here)
        here.close()
        self.assertEqual(0, zygote.wait_for("exit", sid)["code"], read_all(err))
        read_all(out)
        return reply["result"], ready["pid"]

    def test_fresh_interpreters_have_distinct_layouts_while_forked_siblings_share_one(self):
        here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.root.send({"op": "fork-zygote", "id": "m", "modules": ["json"], "paths": [], "parked": 2, "fresh": True, "fds": ["conn"]}, [there.fileno()])
        there.close()
        self.root.wait_for("zygote-forked", "m")
        here.settimeout(20)
        fresh = ZygoteClient.over(here)
        self.addCleanup(lambda: [sock.close() for _, sock in fresh.parked])
        fresh.send({"op": "hello", "version": PROTOCOL_VERSION})
        fresh.wait_for("hello", None)  # its parked interpreters' events may come first
        (a, pid_a), (b, _) = self.libc_of(fresh, "m1"), self.libc_of(fresh, "m2")
        self.assertEqual(1, pid_a)  # still pid 1 of its own namespace
        self.assertNotEqual(a, b)
        c, d = self.libc_of(self.root, "f1")[0], self.libc_of(self.root, "f2")[0]
        self.assertEqual(c, d)      # forked siblings share the zygote's layout
        here.close()


def wait_children(pid, n, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
        if len(children) == n or time.monotonic() > deadline:
            return children
        time.sleep(0.01)


class ChildZygoteTests(unittest.TestCase):
    """The import cache's building block: a zygote forked from the root zygote with modules imported."""

    def setUp(self):
        self.build_dir = tempfile.mkdtemp(prefix="thaw-test-native-")
        self.native = build_native(self.build_dir)
        self.root = ZygoteClient(self.native, "fork")
        self.root.send({"op": "hello", "version": PROTOCOL_VERSION})
        self.root.receive()
        self.packages = tempfile.mkdtemp(prefix="thaw-test-pkgs-")
        os.chmod(self.packages, 0o755)
        with open(os.path.join(self.packages, "heavy.py"), "w") as f:
            f.write("import os\nloaded_in = os.getpid()\n")
        self.code = tempfile.mkdtemp(prefix="thaw-test-fn-")
        os.chmod(self.code, 0o755)
        with open(os.path.join(self.code, "f.py"), "w") as f:
            f.write("import heavy, os\ndef f(event):\n    return [heavy.loaded_in, os.getpid()]\n")

    def tearDown(self):
        self.root.close()
        for d in (self.build_dir, self.packages, self.code):
            shutil.rmtree(d)

    def fork_zygote(self, modules):
        here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.root.send({"op": "fork-zygote", "id": "z1", "modules": modules, "paths": [self.packages], "fds": ["conn"]}, [there.fileno()])
        there.close()
        forked = self.root.wait_for("zygote-forked", "z1")
        here.settimeout(10)
        here.send(json.dumps({"op": "hello", "version": PROTOCOL_VERSION}).encode())
        return forked["pid"], here, json.loads(here.recv(65536))

    def test_a_child_zygote_imports_its_modules_and_its_sandboxes_inherit_them(self):
        pid, conn, hello = self.fork_zygote(["heavy", "no_such_module"])
        self.assertEqual(("hello", pid, 1), (hello["op"], hello["pid"], hello["imported"]))
        self.assertIn("no_such_module: ModuleNotFoundError", hello["failed"][0])
        child = ZygoteClient.over(conn)
        self.addCleanup(lambda: [sock.close() for _, sock in child.parked])
        here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out, err, start = child.spawn("s1", [], runtime={"code_dir": self.code, "paths": [self.packages]},
                                      fds=["root", "netns", "stdin", "stdout", "stderr", "start", "invoke"], extra_fds=[there.fileno()])
        there.close()
        os.close(start)
        here.settimeout(10)
        ready = read_frame(here)
        self.assertEqual("ready", ready["op"], ready)
        self.assertIn("heavy", ready["modules"])
        loaded_in, sandbox_pid = self.call(here)
        self.assertEqual(pid, loaded_in)  # imported by the child zygote, not by the sandbox
        self.assertEqual(1, sandbox_pid)
        here.close()
        self.assertEqual(0, child.wait_for("exit", "s1")["code"])
        read_all(out), read_all(err)
        conn.close()  # thawd gone: the child zygote exits and its parent reaps it
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
            time.sleep(0.01)
        self.assertFalse(os.path.exists(f"/proc/{pid}"))  # exited and reaped by the root zygote

    @staticmethod
    def call(sock):
        write_frame(sock, {"op": "invoke", "id": "r", "event": None})
        return read_frame(sock)["result"]


if __name__ == "__main__":
    unittest.main()
