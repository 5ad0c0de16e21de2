"""The zygote server on its own, driven over its socket as thawd drives it (PROTOCOL.md).

Run as root: python3 -m unittest discover -s tests/python  (the xunit suite runs it too).
The sandbox root here is the host's "/" and its netns the host's: these tests check the protocol,
forking, reaping and privilege drop; isolation is tested end to end from C# with pooled resources.
"""

import json
import ctypes
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

ZYGOTE = os.path.join(os.path.dirname(__file__), "..", "..", "src", "python", "zygote.py")
# The version the zygote under test speaks, read from zygote.py: one source of truth.
with open(ZYGOTE) as _f:
    PROTOCOL_VERSION = int(re.search(r"^PROTOCOL_VERSION = (\d+)$", _f.read(), re.M).group(1))


NATIVE_SOURCE = os.path.join(os.path.dirname(__file__), "..", "..", "src", "native", "thaw-spawn.c")


def build_native(directory):
    """Builds libthawspawn as the project's build does (warnings as errors)."""
    path = os.path.join(directory, "libthawspawn.so")
    subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-o", path, NATIVE_SOURCE], check=True)
    return path


def deny_filter(*syscalls):
    """A seccomp filter (hex BPF, as thawd sends it) that fails the given syscalls with EPERM, compiled
    with libseccomp as thawd compiles the sandboxes' one."""
    lib = ctypes.CDLL("libseccomp.so.2")
    lib.seccomp_init.restype = ctypes.c_void_p
    ctx = ctypes.c_void_p(lib.seccomp_init(ctypes.c_uint(0x7fff0000)))  # SCMP_ACT_ALLOW
    try:
        for name in syscalls:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            assert lib.seccomp_rule_add_array(ctx, ctypes.c_uint(0x00050001), nr, 0, None) == 0, name  # SCMP_ACT_ERRNO(EPERM)
        r, w = os.pipe()
        assert lib.seccomp_export_bpf(ctx, w) == 0
        os.close(w)
        with os.fdopen(r, "rb") as f:
            return f.read().hex()
    finally:
        lib.seccomp_release(ctx)


class ZygoteClient:
    def __init__(self, native=None, via="fork", parked=0, cgroup_procs=(), prefix=(), seccomp=None):
        self.dir = tempfile.mkdtemp(prefix="thaw-test-zygote-")
        self.socket_path = os.path.join(self.dir, "zygote.sock")
        self.via = via
        config = {"socket": self.socket_path, "native": native, "parked": parked, "cgroup_procs": list(cgroup_procs), "seccomp": seccomp}
        self.proc = subprocess.Popen([*prefix, "/usr/bin/python3", "-I", "-S", ZYGOTE, json.dumps(config)],
                                     stdout=subprocess.PIPE, text=True)
        ready = self.proc.stdout.readline().split()
        if ready[:2] != ["ready", str(PROTOCOL_VERSION)]:
            # Not ours to wait out (it would sit in the test's cgroups until its accept timeout).
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"the zygote said {ready}, not ready {PROTOCOL_VERSION}")
        # Sandboxes chroot into the zygote's own "/": a root in another mount namespace could not take /proc.
        self.root = f"/proc/{self.proc.pid}/root" if prefix else "/"
        self.conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.conn.connect(self.socket_path)
        self.conn.settimeout(10)
        self.pending = []
        self.parked = []  # [(pid, socket)]: children the zygote parked, with our end of each one's socket

    @classmethod
    def over(cls, conn, via="fork"):
        """A client of an already connected zygote (a child zygote's socket from fork-zygote)."""
        client = cls.__new__(cls)
        client.conn, client.pending, client.parked, client.via, client.root = conn, [], [], via, "/"
        return client

    def send(self, message, fds=()):
        socket.send_fds(self.conn, [json.dumps(message).encode()], list(fds))

    def receive(self):
        if self.pending:
            return self.pending.pop(0)
        data, fds, _, _ = socket.recv_fds(self.conn, 65536, 1)
        m = json.loads(data)
        if m.get("op") == "parked":
            self.parked.append((m["pid"], socket.socket(fileno=fds[0])))
        else:
            for fd in fds:
                os.close(fd)
        return m

    def wait_for(self, op, sid, pid=None):
        """The next message with this op for sandbox sid (or, with sid None, for this pid)."""
        skipped = []
        while True:
            m = self.receive()
            if m.get("op") == op and m.get("id") == sid and (pid is None or m.get("pid") == pid):
                self.pending = skipped + self.pending
                return m
            skipped.append(m)

    def wait_parked(self, join=True):
        """Our end of a parked child's socket (the zygote parks once idle), and the child's pid. With
        join, it gets the join thawd sends every parked child first (here with no cgroup)."""
        while not self.parked:
            self.receive()
        pid, sock = self.parked.pop(0)
        if join:
            sock.send(b'{"op":"join"}')
        return pid, sock

    def wait_started(self, sid):
        """The spawned reply, if it says the program already runs (a vfork spawn), else the started event."""
        spawned = self.wait_for("spawned", sid)
        return spawned if spawned.get("started") else self.wait_for("started", sid)

    def spawn(self, sid, argv, start=True, extra_fds=(), to=None, **extra):
        """Sends a spawn to the zygote, or straight to a parked child (to: our end of its socket)."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        start_r, start_w = os.pipe()
        root = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        netns = os.open("/proc/self/ns/net", os.O_RDONLY)
        null = os.open("/dev/null", os.O_RDONLY)
        request = {"op": "spawn", "id": sid, "env": {"PATH": "/usr/bin:/bin"}, **({"argv": argv} if argv else {}),
                   "hostname": "thaw-" + sid, "uid": 65534, "gid": 65534,
                   "namespaces": ["ipc", "uts", "pid", "mnt"], "via": self.via,
                   "fds": ["root", "netns", "stdin", "stdout", "stderr", "start"], **extra}
        if start:
            os.write(start_w, b"s")  # before the request, as thawd's create-and-start does
            request["prestarted"] = True
        if to is None:
            self.send(request, [root, netns, null, out_w, err_w, start_r, *extra_fds])
        else:
            socket.send_fds(to, [json.dumps(request).encode()], [root, netns, null, out_w, err_w, start_r, *extra_fds])
        for fd in (root, netns, null, out_w, err_w, start_r):
            os.close(fd)
        return out_r, err_r, start_w

    def close(self):
        for _, sock in self.parked:
            sock.close()
        self.conn.close()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        os.rmdir(self.dir)


def read_all(fd):
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode()


class ZygoteTests(unittest.TestCase):
    """Sandboxes forked by the zygote itself (the Python runtime's path), entered by libthawspawn's C code."""
    via = "fork"
    use_native = True

    @classmethod
    def setUpClass(cls):
        cls.build_dir = tempfile.mkdtemp(prefix="thaw-test-native-")
        cls.native = build_native(cls.build_dir)

    @classmethod
    def tearDownClass(cls):
        os.unlink(cls.native)
        os.rmdir(cls.build_dir)

    def setUp(self):
        self.z = ZygoteClient(self.native if self.use_native else None, self.via)
        self.z.send({"op": "hello", "version": PROTOCOL_VERSION})
        hello = self.z.receive()
        self.assertEqual("hello", hello["op"])
        self.assertEqual(self.z.proc.pid, hello["pid"])

    def test_sandbox_is_pid_1_unprivileged_with_own_hostname(self):
        out, err, start = self.z.spawn("a", ["/bin/sh", "-c",
            "echo $$; hostname; id -u; id -g; grep -E '^(CapEff|CapPrm|CapInh|CapBnd|NoNewPrivs|SigIgn)' /proc/self/status; ls /proc | grep -c '^[0-9]'"])
        os.close(start)
        self.assertGreater(self.z.wait_started("a")["pid"], 1)
        exit_ = self.z.wait_for("exit", "a")
        self.assertEqual((0, None, None), (exit_["code"], exit_["signal"], exit_["error"]))
        lines = read_all(out).split("\n")
        self.assertEqual(["1", "thaw-a", "65534", "65534"], lines[:4])
        self.assertIn("CapEff:\t0000000000000000", lines)
        self.assertIn("CapPrm:\t0000000000000000", lines)
        self.assertIn("CapInh:\t0000000000000000", lines)
        self.assertIn("CapBnd:\t0000000000000000", lines)
        self.assertIn("NoNewPrivs:\t1", lines)
        self.assertIn("SigIgn:\t0000000000000000", lines)  # not the zygote's ignored SIGPIPE
        # Its own /proc: the shell, grep and ls only, none of the host's processes.
        self.assertLessEqual(int(lines[10]), 4)
        self.assertEqual("", read_all(err))

    def test_a_sandbox_installs_the_seccomp_filter_thawd_sent_and_the_zygote_does_not(self):
        self.z.close()
        self.z = ZygoteClient(self.native if self.use_native else None, self.via, seccomp=deny_filter("unshare"))
        self.z.send({"op": "hello", "version": PROTOCOL_VERSION})
        self.assertEqual("hello", self.z.receive()["op"])
        probe = ("import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); r = libc.unshare(0);"
                 " print(open('/proc/self/status').read().split('Seccomp:')[1].split()[0], r, ctypes.get_errno())")
        out, err, start = self.z.spawn("s", ["/usr/bin/python3", "-c", probe])
        os.close(start)
        code = self.z.wait_for("exit", "s")["code"]
        stdout, stderr = read_all(out), read_all(err)
        self.assertEqual(0, code, stderr)
        self.assertEqual("2 -1 1", stdout.strip())  # filtered, and unshare(0), a no-op otherwise, is EPERM
        with open(f"/proc/{self.z.proc.pid}/status") as f:
            self.assertIn("Seccomp:\t0", f.read())

    def test_a_sandbox_mounts_nothing_into_a_shared_mount_namespace(self):
        # systemd leaves / rshared: a mount namespace unshared from it starts as a peer of every mount,
        # so the sandbox's /proc would be mounted over its zygote's (and thawd's, and the host's) /proc
        # too, and stay there, empty, once the sandbox's pid namespace is gone. The zygote here runs in
        # a mount namespace of the test's own whose every mount is shared; the host's stays untouched.
        self.z.close()
        self.z = ZygoteClient(self.native if self.use_native else None, self.via,
                              prefix=["unshare", "--mount", "--propagation", "shared"])
        self.z.send({"op": "hello", "version": PROTOCOL_VERSION})
        self.assertEqual("hello", self.z.receive()["op"])
        out, err, start = self.z.spawn("s", ["/bin/sh", "-c", "ls /proc | grep -c '^[0-9]'"])
        os.close(start)
        exit_ = self.z.wait_for("exit", "s")
        self.assertEqual((0, None), (exit_["code"], exit_["error"]))
        self.assertLessEqual(int(read_all(out)), 4)  # it had its own /proc
        read_all(err)
        with open(f"/proc/{self.z.proc.pid}/mountinfo") as f:
            procs = [line for line in f if line.split()[4] == "/proc"]
        self.assertEqual(1, len(procs), "".join(procs))

    def test_exit_code_and_stderr(self):
        out, err, start = self.z.spawn("b", ["/bin/sh", "-c", "echo oops >&2; exit 7"])
        os.close(start)
        self.assertEqual(7, self.z.wait_for("exit", "b")["code"])
        self.assertEqual("oops\n", read_all(err))
        read_all(out)

    def test_missing_program_reports_exec_error(self):
        out, err, start = self.z.spawn("c", ["/no/such/program"])
        os.close(start)
        exit_ = self.z.wait_for("exit", "c")
        self.assertEqual(127, exit_["code"])
        self.assertIn("cannot execute /no/such/program", exit_["error"])
        self.assertIn("No such file or directory", exit_["error"])
        read_all(out), read_all(err)

    def test_kill_before_and_after_start(self):
        out, err, start = self.z.spawn("d", ["/bin/sleep", "30"], start=False)
        self.z.wait_for("spawned", "d")
        self.z.send({"op": "kill", "id": "d", "signal": signal.SIGKILL})
        exit_ = self.z.wait_for("exit", "d")
        self.assertEqual(signal.SIGKILL, exit_["signal"])
        os.close(start)
        out2, err2, start2 = self.z.spawn("e", ["/bin/sleep", "30"])
        os.close(start2)
        self.z.wait_started("e")
        self.z.send({"op": "kill", "id": "e", "signal": signal.SIGKILL})
        self.assertEqual(signal.SIGKILL, self.z.wait_for("exit", "e")["signal"])
        for fd in (out, err, out2, err2):
            read_all(fd)

    def test_closing_start_aborts_without_exec(self):
        out, err, start = self.z.spawn("f", ["/bin/sh", "-c", "echo ran"], start=False)
        os.close(start)
        exit_ = self.z.wait_for("exit", "f")
        self.assertEqual(0, exit_["code"])
        self.assertEqual("", read_all(out))
        read_all(err)

    def test_bad_requests_get_errors_and_zygote_survives(self):
        self.z.send({"op": "nope"})
        self.assertIn("unknown op", self.z.receive()["error"])
        self.z.send({"op": "spawn", "id": "g", "argv": ["/bin/true"], "fds": ["root"]})
        self.assertIn("carries 0", self.z.receive()["error"])
        self.z.send({"op": "spawn", "id": "g", "argv": ["/bin/true"], "fds": []})
        self.assertIn("needs a root fd", self.z.receive()["error"])
        out, err, start = self.z.spawn("h", ["/bin/true"], namespaces=["bogus"])
        self.assertIn("unknown namespaces", self.z.receive()["error"])
        out2, err2, start2 = self.z.spawn("i", ["/bin/true"])
        self.assertEqual(0, self.z.wait_for("exit", "i")["code"])
        for fd in (out, err, out2, err2, start, start2):
            os.close(fd)

    def test_many_concurrent_sandboxes_are_all_reaped(self):
        fds = []
        for i in range(30):
            out, err, start = self.z.spawn(f"m{i}", ["/bin/sh", "-c", f"exit {i % 5}"])
            fds += [out, err, start]
        codes = {}
        while len(codes) < 30:
            m = self.z.receive()
            if m["op"] == "exit":
                codes[m["id"]] = m["code"]
        self.assertEqual({f"m{i}": i % 5 for i in range(30)}, codes)
        for fd in fds:
            os.close(fd)
        children = subprocess.run(["ps", "--ppid", str(self.z.proc.pid), "-o", "pid="], capture_output=True, text=True).stdout
        self.assertEqual("", children.strip())

    def test_thawd_gone_kills_every_sandbox(self):
        out, err, start = self.z.spawn("j", ["/bin/sleep", "30"])
        pid = self.z.wait_started("j")["pid"]
        self.z.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
            time.sleep(0.01)
        self.assertFalse(os.path.exists(f"/proc/{pid}"))
        self.z = None
        for fd in (out, err, start):
            os.close(fd)

    def tearDown(self):
        # Some tests close the zygote themselves.
        if self.z is not None:
            self.z.close()


class CrashNetTests(unittest.TestCase):
    """thawd gone without goodbye: the zygote kills every process in the instance's other sandbox
    cgroups (thawd's own children among them); after goodbye it leaves them alone."""

    def setUp(self):
        hierarchy = "/sys/fs/cgroup/pids" if os.path.isdir("/sys/fs/cgroup/pids") else "/sys/fs/cgroup"
        self.instance = os.path.join(hierarchy, f"thaw-test-net-{os.getpid()}")
        self.own, self.other = os.path.join(self.instance, "sb-0"), os.path.join(self.instance, "sb-1")
        for d in (self.instance, self.own, self.other):
            os.mkdir(d)
        self.addCleanup(self.remove_cgroups)
        self.z = ZygoteClient(cgroup_procs=[os.path.join(self.own, "cgroup.procs")])
        self.z.send({"op": "hello", "version": PROTOCOL_VERSION})
        # A process of another sandbox: one of thawd's own children, as far as the zygote knows.
        self.victim = subprocess.Popen(["sleep", "60"])
        self.addCleanup(self.victim.wait)
        self.addCleanup(self.victim.kill)
        with open(os.path.join(self.other, "cgroup.procs"), "w") as f:
            f.write(str(self.victim.pid))

    def remove_cgroups(self):
        for d in (self.other, self.own, self.instance):
            deadline = time.monotonic() + 10
            while True:
                try:
                    os.rmdir(d)
                    break
                except OSError:  # busy until its last process is reaped
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)

    def zygote_stops(self):
        self.z.proc.wait(timeout=10)
        self.z.proc.stdout.close()
        os.rmdir(self.z.dir)

    def test_a_close_without_goodbye_kills_the_instances_sandboxes(self):
        self.assertEqual("hello", self.z.receive()["op"])
        self.z.conn.close()
        self.zygote_stops()
        self.assertEqual(-signal.SIGKILL, self.victim.wait(timeout=10))

    def test_a_reset_connection_kills_them_too(self):
        # The hello reply left unread: closing then resets the zygote's end (ECONNRESET, not EOF).
        time.sleep(0.2)
        self.z.conn.close()
        self.zygote_stops()
        self.assertEqual(-signal.SIGKILL, self.victim.wait(timeout=10))

    def test_after_goodbye_the_instances_other_sandboxes_live_on(self):
        self.assertEqual("hello", self.z.receive()["op"])
        self.z.send({"op": "goodbye"})
        self.z.conn.close()
        self.zygote_stops()
        time.sleep(0.1)
        self.assertIsNone(self.victim.poll())


class FrozenCrashNetTests(unittest.TestCase):
    """A frozen (idle warm) sandbox cannot die until it is thawed: thawd gone, the zygote's net kills
    it through every hierarchy it was given, the freezer's included, and the zygote exits."""

    def setUp(self):
        if os.path.isdir("/sys/fs/cgroup/freezer"):  # cgroup v1: the freezer is a hierarchy of its own
            self.hierarchies, self.freeze = ["/sys/fs/cgroup/pids", "/sys/fs/cgroup/freezer"], ("freezer.state", "FROZEN")
        elif os.path.exists("/sys/fs/cgroup/cgroup.freeze") or os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            self.hierarchies, self.freeze = ["/sys/fs/cgroup"], ("cgroup.freeze", "1")
        else:
            self.skipTest("no cgroup freezer on this host")
        name = f"thaw-test-frozen-{os.getpid()}"
        self.dirs = [(os.path.join(h, name), os.path.join(h, name, "sb-0"), os.path.join(h, name, "sb-1")) for h in self.hierarchies]
        for dirs in self.dirs:
            for d in dirs:
                os.mkdir(d)
        self.addCleanup(self.remove_cgroups)
        self.z = ZygoteClient(cgroup_procs=[os.path.join(own, "cgroup.procs") for _, own, _ in self.dirs])
        self.z.send({"op": "hello", "version": PROTOCOL_VERSION})
        self.victim = subprocess.Popen(["sleep", "60"])
        self.addCleanup(self.victim.wait)
        self.addCleanup(self.thaw_and_kill)
        for _, _, other in self.dirs:
            with open(os.path.join(other, "cgroup.procs"), "w") as f:
                f.write(str(self.victim.pid))
        freezer = self.dirs[-1][2]
        with open(os.path.join(freezer, self.freeze[0]), "w") as f:
            f.write(self.freeze[1])

    def thaw_and_kill(self):
        self.victim.kill()
        for file, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
            try:
                with open(os.path.join(self.dirs[-1][2], file), "w") as f:
                    f.write(value)
            except OSError:
                pass

    def remove_cgroups(self):
        for instance, own, other in self.dirs:
            for d in (other, own, instance):
                deadline = time.monotonic() + 10
                while True:
                    try:
                        os.rmdir(d)
                        break
                    except OSError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.01)

    def test_a_frozen_sandbox_dies_and_the_zygote_exits_when_thawd_crashes(self):
        self.assertEqual("hello", self.z.receive()["op"])
        self.z.conn.close()
        self.z.proc.wait(timeout=10)
        self.z.proc.stdout.close()
        os.rmdir(self.z.dir)
        self.assertEqual(-signal.SIGKILL, self.victim.wait(timeout=2))


class ThawdGoneBeforeConnectTests(unittest.TestCase):
    """thawd started the zygote and died before it connected: the zygote's stdin (a pipe only thawd
    held) ends, and the zygote exits instead of waiting out its 30 s accept timeout."""

    def test_the_zygote_exits_when_its_stdin_ends_before_thawd_connected(self):
        directory = tempfile.mkdtemp(prefix="thaw-test-zygote-")
        config = {"socket": os.path.join(directory, "zygote.sock"), "native": None, "parked": 0, "watch_stdin": True}
        proc = subprocess.Popen(["/usr/bin/python3", "-I", "-S", ZYGOTE, json.dumps(config)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.assertEqual(["ready", str(PROTOCOL_VERSION)], proc.stdout.readline().split()[:2])
            proc.stdin.close()
            self.assertEqual(1, proc.wait(timeout=5))
            self.assertIn("thawd is gone", proc.stderr.read())
            self.assertFalse(os.path.exists(config["socket"]))
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
            os.rmdir(directory)


class PythonEntryTests(ZygoteTests):
    """Forked and entered in Python only: the zygote's fallback when libthawspawn is missing."""
    use_native = False


class NativeSpawnTests(ZygoteTests):
    """The same behaviour through libthawspawn's vfork-style clone (the exec runtime's path)."""
    via = "helper"

    def test_the_ctypes_struct_has_the_C_structs_size_and_offsets(self):
        spec = importlib.util.spec_from_file_location("zygote_under_test", ZYGOTE)
        zygote = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(zygote)  # definitions only: the zygote starts from its __main__ block
        native = zygote.load_native(self.native)
        layout = (ctypes.c_size_t * 64)()
        count = native.thaw_spawn_layout(layout, 64)
        fields = [name for name, _ in zygote.ThawSpawn._fields_]
        self.assertEqual(len(fields) + 1, count)
        self.assertEqual(list(layout[:count]), [ctypes.sizeof(zygote.ThawSpawn)] + [getattr(zygote.ThawSpawn, f).offset for f in fields])

    def test_a_vfork_spawn_says_started_in_its_reply_and_sends_no_started_event(self):
        out, err, start = self.z.spawn("v", ["/bin/true"])
        os.close(start)
        self.assertTrue(self.z.wait_for("spawned", "v").get("started"))
        self.assertEqual(0, self.z.wait_for("exit", "v")["code"])
        self.assertEqual([], [m for m in self.z.pending if m.get("op") == "started"])
        read_all(out)
        read_all(err)


if __name__ == "__main__":
    unittest.main()
