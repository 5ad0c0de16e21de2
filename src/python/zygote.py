"""Thaw's zygote: a small, single-threaded, stdlib-only fork server.

thawd cannot fork (the .NET runtime hangs a forked child under GC load), so every sandbox process
descends from a zygote. thawd starts this file once with python3, the zygote enters its own lean
sandbox (its own cgroup, an empty network namespace, a chroot that holds only this folder) and then
forks a sandbox for every "spawn" request. The request carries the sandbox's resources as file
descriptors (SCM_RIGHTS): its root dir, its network namespace, its cgroup.procs files and its stdio,
so the zygote needs no view of the host's paths.

The wire protocol is written down in PROTOCOL.md beside this file; PROTOCOL_VERSION names it.
Python 3.11 has no os.setns / os.unshare, hence ctypes. The zygote must stay single-threaded: a
fork from a multi-threaded process copies only the forking thread.
"""

import array  # touch profiles; socket.recv_fds imports it lazily too, and the zygote's root may hold no stdlib
import ctypes
import gc
import importlib
import importlib.util
import json
import os
import select
import signal
import socket
import sys
import time

# The handler runtime (runtime.py beside this file), loaded before the zygote forks anything:
# every Python sandbox already holds it. -I keeps this folder off sys.path, hence the explicit load.
_runtime_spec = importlib.util.spec_from_file_location("thaw_runtime", os.path.join(os.path.dirname(os.path.abspath(__file__)), "runtime.py"))
runtime = importlib.util.module_from_spec(_runtime_spec)
sys.modules["thaw_runtime"] = runtime
_runtime_spec.loader.exec_module(runtime)

PROTOCOL_VERSION = 4
MAX_MESSAGE = 64 * 1024
MAX_FDS = 32
ACCEPT_TIMEOUT_S = 30

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACES = {"mnt": CLONE_NEWNS, "uts": CLONE_NEWUTS, "ipc": CLONE_NEWIPC, "pid": CLONE_NEWPID}

PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
MNT_DETACH = 2
SYS_PIVOT_ROOT, SYS_MOVE_MOUNT = 155, 429
AT_FDCWD, MOVE_MOUNT_F_EMPTY_PATH = -100, 0x4
# Where a sandbox's root tree is attached in its copy of the zygote's mount namespace: an empty dir
# every pooled root has and the zygote never uses.
ATTACH_POINT = b"/packages"
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
PR_SET_PDEATHSIG = 1
PARK_WHEN_IDLE_MS = 20
HERE = os.path.dirname(os.path.abspath(__file__))  # this folder; /handler once the zygote is in its own root
NATIVE_PATH = None  # libthawspawn as this process can open it now (after the zygote entered its root)
SECCOMP_HEX = None  # the sandboxes' seccomp filter as thawd sent it (hex BPF), passed on to Morula interpreters
SECCOMP_FILTER = None  # the same, as bytes the C entry and the Python one install (src/Thaw.Sandboxes/SandboxSeccomp.cs)
PROC_FD = -1  # /proc, opened before the zygote entered its own root: parked children read their maps through it
# The instance's cgroup dir in every hierarchy the zygote joined, and the zygote's own cgroup's name
# in them, opened before the zygote entered its own root: the safety net for a crashed thawd
# (kill_instance_sandboxes). Every hierarchy, not one: the freezer's holds the frozen sandboxes.
INSTANCE_CGROUPS = None
CRASH_NET_S = 5  # how long the net keeps killing (a fork racing the kill, a child mid-join)
MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x2, 0x4, 0x8
LINUX_CAPABILITY_VERSION_3 = 0x20080522

# Signals ignored here: Python's own SIGPIPE and SIGXFSZ, and whatever thawd's starter ignored
# (a shell's background job ignores SIGINT and SIGQUIT). An ignored signal stays ignored across
# exec, so a program would inherit them: its child resets them first (subprocess's restore_signals).
IGNORED_SIGNALS = [s for s in signal.valid_signals()
                   if s not in (signal.SIGKILL, signal.SIGSTOP) and signal.getsignal(s) == signal.SIG_IGN]

# Exit codes of a sandbox that never reached execve (the "error" field says why).
EXIT_SETUP_FAILED = 126
EXIT_EXEC_FAILED = 127

libc = ctypes.CDLL(None, use_errno=True)
# Declared so ctypes passes full-width unsigned longs: an undeclared int argument leaves the
# register's upper half undefined, and mount() then sees garbage flags (EINVAL).
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
libc.unshare.argtypes = [ctypes.c_int]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
libc.syscall.restype = ctypes.c_long


def check(result, what):
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def last_cap():
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return 63


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


class ThawSpawn(ctypes.Structure):
    """struct thaw_spawn of src/native/thaw-spawn.c, field for field."""
    _fields_ = [("root", ctypes.c_int), ("tree", ctypes.c_int), ("netns", ctypes.c_int), ("stdin", ctypes.c_int), ("stdout", ctypes.c_int),
                ("stderr", ctypes.c_int), ("status", ctypes.c_int), ("start", ctypes.c_int), ("keep", ctypes.c_int),
                ("cgroups", ctypes.POINTER(ctypes.c_int)), ("ncgroups", ctypes.c_int), ("ns_flags", ctypes.c_int),
                ("new_pid", ctypes.c_int), ("mount_proc", ctypes.c_int), ("vfork", ctypes.c_int),
                ("uid", ctypes.c_uint), ("gid", ctypes.c_uint),
                ("hostname", ctypes.c_char_p), ("cwd", ctypes.c_char_p),
                ("argv", ctypes.POINTER(ctypes.c_char_p)), ("envp", ctypes.POINTER(ctypes.c_char_p)),
                ("mntns", ctypes.c_int), ("pidfd", ctypes.c_int), ("want_pidfd", ctypes.c_int), ("direct", ctypes.c_int),
                ("mask", ctypes.c_ulong * 16),  # glibc's sigset_t: 1024 bits
                ("filter", ctypes.c_void_p), ("filter_length", ctypes.c_uint)]


# Read before the zygote chroots: its own root has no /proc.
LAST_CAP = last_cap()


# ---------------------------------------------------------------------------------------------
# The sandbox side: runs in the forked child, never in the zygote itself.
# ---------------------------------------------------------------------------------------------

def enter_sandbox(req, fds, status_w):
    """The forked child, already pid 1 of its own pid namespace (the zygote unshared it for its
    children before forking): enter the netns, root, other namespaces and cgroup, then exec."""
    namespaces = req.get("namespaces", [])
    check(libc.setns(fds["netns"], CLONE_NEWNET), "setns(netns)")
    flags = 0
    for name in namespaces:
        if name != "pid":
            flags |= NAMESPACES[name]
    unshared = "unshare(" + ",".join(n for n in namespaces if n != "pid") + ")"
    if flags & CLONE_NEWNS:
        # fchdir before unshare(CLONE_NEWNS): the root fd names a mount of the zygote's mount namespace,
        # and only the process's own root and cwd are moved to the copies in a new one. Entered after the
        # unshare, the sandbox's root would stay a foreign mount and mounting /proc fails (EINVAL).
        if "tree" not in fds:
            os.fchdir(fds["root"])
        check(libc.unshare(flags), unshared)
        # Before any mount: a copy of a shared mount is a peer of the original (systemd leaves /
        # rshared), so the sandbox's /proc would also land on its zygote's, thawd's and the host's.
        check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
        if "tree" in fds:
            # The root as a detached mount tree (open_tree by thawd), attached into this sandbox's copy of
            # the zygote's small mount namespace: nothing of thawd's mount table is copied or torn down.
            check(libc.syscall(SYS_MOVE_MOUNT, fds["tree"], b"", AT_FDCWD, ATTACH_POINT, MOVE_MOUNT_F_EMPTY_PATH), "move_mount(root)")
            os.chdir(ATTACH_POINT)
        os.chroot(".")
    else:
        os.fchdir(fds["root"])
        os.chroot(".")
        if flags:
            check(libc.unshare(flags), unshared)
    # "0" is the writer itself, whatever pid namespace it is in; the fds were opened by thawd.
    for fd in fds["cgroup"]:
        os.write(fd, b"0")
    if "mnt" in namespaces and "pid" in namespaces:
        check(libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "mount /proc")
    if "uts" in namespaces:
        socket.sethostname(req.get("hostname", "thaw"))
    os.dup2(fds["stdin"], 0)
    os.dup2(fds["stdout"], 1)
    os.dup2(fds["stderr"], 2)
    start = fds.get("start", -1)
    close_all_but(0, 1, 2, status_w, start, fds.get("invoke", -1))
    drop_privileges(req.get("uid", 65534), req.get("gid", 65534))
    install_filter()
    os.chdir(req.get("cwd", "/"))
    if start >= 0:
        # create → start: everything above is done; thawd writes "s" to start, or closes to abort.
        if os.read(start, 1) != b"s":
            os._exit(0)
        os.close(start)


def become_sandbox(native, req, named, status_w, spec):
    """In a forked child: enter the sandbox, then exec the program or serve the runtime. Never returns."""
    try:
        if spec is not None:
            native.thaw_enter(ctypes.byref(spec))  # the same entry as the helper, in C
        else:
            keep = [status_w, named.get("root", -1), named.get("tree", -1), named["netns"], named["stdin"], named["stdout"],
                    named["stderr"], named.get("start", -1), named.get("invoke", -1), *named["cgroup"]]
            close_all_but(0, 1, 2, *keep)
            enter_sandbox(req, named, status_w)
        if "runtime" in req:
            serve_runtime(req, named, status_w)
        exec_program(req, status_w)
    except BaseException as e:  # the child must never return into the server loop
        report_error(status_w, f"sandbox setup failed: {e}")
    os._exit(EXIT_SETUP_FAILED)


JOIN = b'{"op":"join"}'
MAX_PARKED = 256  # the most children thawd may ask a zygote to keep parked ("park")


def await_join(sock, status_w):
    """A parked child's first message is thawd's join: the cgroup.procs files of the pooled cgroup
    its sandbox will have (none if thawd has no pool to give). Joined before the child touches
    anything, so every page it copies from here on (its warm-up, its pre-faults, its sandbox's work)
    is charged to that cgroup, not to the zygotes' (a cgroup keeps the charge of a page for the
    page's life, wherever its process moves). A v1 join is four cgroup.procs writes (0.06-1.7 ms
    after idle): off the cold path this way; the spawn then carries none."""
    data, fds, flags, _ = socket.recv_fds(sock, MAX_MESSAGE, MAX_FDS, socket.MSG_CMSG_CLOEXEC)
    if not data or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        os._exit(0)  # its socket closed (thawd or the zygote shut down) or garbage: never became a sandbox
    try:
        if data != JOIN:
            raise ValueError(f"a parked child's first message must be join, not {data[:40]!r}")
        for fd in fds:
            os.write(fd, b"0")
    except (OSError, ValueError) as e:
        report_error(status_w, f"cannot join the cgroup thawd gave: {e}")
        os._exit(EXIT_SETUP_FAILED)
    finally:
        for fd in fds:
            os.close(fd)


def await_claim(sock, native, status_w):
    """A parked child (or Morula interpreter), joined and warmed up, waits for its spawn on its own
    socket: sent by thawd directly (the zygote gave thawd the other end when it parked the child), or
    by the zygote. The status pipe is the child's own since it was parked. Then it becomes that sandbox."""
    data, fds, flags, _ = socket.recv_fds(sock, MAX_MESSAGE, MAX_FDS, socket.MSG_CMSG_CLOEXEC)
    if not data or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        os._exit(0)
    sock.close()
    try:
        req = json.loads(data)
        if req.get("op") != "spawn":
            raise ValueError(f"a parked child takes only spawn requests, not {req.get('op')!r}")
        named = name_spawn_fds(req, fds)
        spec = native_spec(req, named, status_w) if native is not None else None
    except Exception as e:  # noqa: BLE001 -- reported on the status pipe: the zygote's exit event carries it
        report_error(status_w, f"bad spawn request: {type(e).__name__}: {e}")
        os._exit(EXIT_SETUP_FAILED)
    become_sandbox(native, req, named, status_w, spec)


def name_spawn_fds(req, fds):
    """Checks a spawn request and names its fds (PROTOCOL.md); raises ValueError naming the problem."""
    names = req.get("fds", [])
    if len(names) != len(fds):
        raise ValueError(f"request names {len(names)} fds but carries {len(fds)}")
    named = {"cgroup": []}
    for name, fd in zip(names, fds):
        if name == "cgroup":
            named["cgroup"].append(fd)
        elif name in ("root", "tree", "netns", "stdin", "stdout", "stderr", "start", "invoke"):
            named[name] = fd
        else:
            raise ValueError(f"unknown fd name {name!r}")
    if ("root" in named) == ("tree" in named):
        raise ValueError("spawn needs a root fd or a tree fd (exactly one)")
    if "tree" in named and "mnt" not in req.get("namespaces", []):
        raise ValueError("a tree fd needs the mnt namespace to be attached in")
    for required in ("netns", "stdin", "stdout", "stderr"):
        if required not in named:
            raise ValueError(f"spawn needs a {required} fd")
    unknown = [n for n in req.get("namespaces", []) if n not in NAMESPACES]
    if unknown:
        raise ValueError(f"unknown namespaces {unknown}")
    if req.get("via", "fork") not in ("fork", "helper"):
        raise ValueError(f"unknown via {req.get('via')!r}")
    if "runtime" in req:
        if req.get("via", "fork") != "fork" or "invoke" not in named:
            raise ValueError("a runtime spawn needs via fork and an invoke fd")
        if not isinstance(req["runtime"], dict):
            raise ValueError("runtime must be an object")
    elif not req.get("argv"):
        raise ValueError("spawn needs a non-empty argv")
    return named


# A request shaped like thawd's (PROTOCOL.md): handling it once, with nothing real, touches the
# pages a real one will, so the copy-on-write faults after a fork (~14 µs each here) are taken early.
WARM_REQUEST = {
    "op": "spawn", "id": "sb-000000", "via": "fork", "env": {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"},
    "cwd": "/handler", "hostname": "thaw-warm-function", "uid": 65534, "gid": 65534, "namespaces": ["ipc", "uts", "pid", "mnt"],
    "fds": ["tree", "netns", "stdin", "stdout", "stderr", "start", "invoke", "cgroup", "cgroup", "cgroup", "cgroup"], "prestarted": True,
    "runtime": {"handler": "main.handler", "paths": ["/usr/lib/python3/dist-packages"], "function": {"name": "warm", "version": "1", "memory_mb": 128}},
}


def warm_requests(native):
    """Parses, checks and specs WARM_REQUEST twice (what both the zygote and a parked child do per request)."""
    for _ in range(2):
        data = json.dumps(WARM_REQUEST).encode()
        request = json.loads(data)
        request["_raw"] = data
        named = name_spawn_fds(request, [-1] * len(request["fds"]))
        if native is not None:
            ctypes.byref(native_spec(request, named, -1))
        json.dumps({"op": "spawned", "id": request["id"], "pid": 1}, separators=(",", ":")).encode()
        Sandbox(request["id"], 1, -1)


def warm_parked(native):
    """What a parked child will run once claimed, run once now with nothing real: its copy-on-write
    faults (~14 µs each here) happen while it waits instead of on the request's path."""
    runtime.warm()
    warm_requests(native)
    os.environ.update(WARM_REQUEST["env"])
    os.environ.clear()


def serve_runtime(req, fds, status_w):
    """A Python function's sandbox: no exec, the runtime this process already holds serves it."""
    os.environ.clear()  # what execve would have given a program: the request's environment only
    os.environ.update(req.get("env", {}))
    # Before any of the function's code runs (its import is its init): the sandbox must hold no
    # descriptor of the zygote's. EOF after "exec": the zygote reports started; load errors go to
    # thawd over invoke.
    os.write(status_w, b"exec\n")
    os.close(status_w)
    os._exit(runtime.serve(fds["invoke"], req["runtime"]))


def exec_program(req, status_w):
    argv = req["argv"]
    for sig in IGNORED_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    os.write(status_w, b"exec\n")
    try:
        os.execvpe(argv[0], argv, req.get("env", {}))
    except OSError as e:
        report_error(status_w, f"cannot execute {argv[0]}: {e.strerror}")
        os._exit(EXIT_EXEC_FAILED)


def drop_bounding_set():
    """Empties this process's capability bounding set (needs CAP_SETPCAP). The zygote does it once
    at boot (the set is inherited), so children have nothing left to drop. Its inheritable set is
    made full first: what an exec by root keeps with an empty bounding set (a Morula interpreter)."""
    header = CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (CapData * 2)()
    check(libc.capget(ctypes.byref(header), data), "capget")
    for d in data:
        d.inheritable = d.permitted
    check(libc.capset(ctypes.byref(header), data), "capset")
    for cap in range(LAST_CAP + 1):
        check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "prctl(PR_CAPBSET_DROP)")


def drop_privileges(uid, gid):
    # The bounding set first (emptied by the zygote at boot, checked here), then ids: leaving uid 0
    # clears permitted and effective caps; capset clears inheritable; NO_NEW_PRIVS stops setuid
    # binaries and file caps.
    if libc.prctl(PR_CAPBSET_READ, LAST_CAP, 0, 0, 0) != 0:
        drop_bounding_set()
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    header = CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (CapData * 2)()
    check(libc.capset(ctypes.byref(header), data), "capset")
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


class SockFprog(ctypes.Structure):
    """struct sock_fprog: a seccomp filter for prctl(PR_SET_SECCOMP)."""
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def set_filter(hex_text):
    """Keeps the filter every sandbox installs last in its setup (thawd compiled it once, with
    libseccomp): the C entry gets it in struct thaw_spawn, the Python one in install_filter."""
    global SECCOMP_HEX, SECCOMP_FILTER
    if hex_text:
        program = bytes.fromhex(hex_text)
        SECCOMP_HEX, SECCOMP_FILTER = hex_text, (ctypes.c_char * len(program)).from_buffer_copy(program)


def install_filter():
    """The Python entry's seccomp install (the C entry does the same in thaw-spawn.c): after
    no_new_privs, before anything of the function's runs."""
    if SECCOMP_FILTER is not None:
        program = SockFprog(len(SECCOMP_FILTER) // 8, ctypes.addressof(SECCOMP_FILTER))
        check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(program), 0, 0), "prctl(PR_SET_SECCOMP)")


def close_all_but(*keep):
    low = 0
    for fd in sorted(k for k in keep if k >= 0):
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def report_error(status_w, message):
    try:
        os.write(status_w, b"error " + message.replace("\n", " ").encode()[:4000] + b"\n")
    except OSError:
        pass


# ---------------------------------------------------------------------------------------------
# The zygote: receives requests, forks, reaps, reports.
# ---------------------------------------------------------------------------------------------

def native_spec(req, named, status_w):
    """struct thaw_spawn for a request; the arrays it points to are kept alive on the struct."""
    namespaces = req.get("namespaces", [])
    argv = [a.encode() for a in req.get("argv", [])]
    env = [f"{k}={v}".encode() for k, v in req.get("env", {}).items()]
    cgroups = named["cgroup"]
    arrays = ((ctypes.c_int * max(1, len(cgroups)))(*cgroups),
              (ctypes.c_char_p * (len(argv) + 1))(*argv, None), (ctypes.c_char_p * (len(env) + 1))(*env, None))
    spec = ThawSpawn(
        root=named.get("root", -1), tree=named.get("tree", -1), netns=named["netns"], stdin=named["stdin"],
        stdout=named["stdout"], stderr=named["stderr"], status=status_w, start=named.get("start", -1),
        keep=named.get("invoke", -1),
        cgroups=arrays[0], ncgroups=len(cgroups),
        ns_flags=sum(NAMESPACES[n] for n in namespaces if n != "pid"),
        mount_proc=int("mnt" in namespaces and "pid" in namespaces),
        uid=int(req.get("uid", 65534)), gid=int(req.get("gid", 65534)),
        hostname=req.get("hostname", "thaw").encode(), cwd=req.get("cwd", "/").encode(),
        argv=arrays[1], envp=arrays[2], mntns=-1, pidfd=-1,
        filter=ctypes.addressof(SECCOMP_FILTER) if SECCOMP_FILTER is not None else None,
        filter_length=len(SECCOMP_FILTER) // 8 if SECCOMP_FILTER is not None else 0)
    spec._arrays = arrays
    return spec


class Sandbox:
    __slots__ = ("id", "pid", "status_r", "buffer", "error", "exited", "exec_seen", "started", "parked", "sock", "reported")

    def __init__(self, sid, pid, status_r):
        self.id = sid             # None for a child claimed by thawd directly: its events name the pid
        self.pid = pid            # the sandbox's pid 1, as seen from the zygote (and thawd)
        self.status_r = status_r  # closed by the child's exec: EOF means "started" (or died)
        self.buffer = b""
        self.error = None
        self.exited = None        # the wait status, once reaped
        self.exec_seen = False    # the child said "exec" just before execve
        self.started = False
        self.parked = False       # forked ahead, not claimed yet (its status pipe has said nothing)
        self.sock = None          # a parked child the zygote kept for itself: its end of the child's socket
        self.reported = False     # the exit event was sent


class Zygote:
    def __init__(self, conn, native, own_pidns, info=None, parked=0):
        self.conn = conn
        # Children forked ahead of time, each waiting on its own socket for a sandbox to become:
        # the fork, Python's after-fork work and the runtime's copy-on-write faults (~14 µs each
        # on this VM) happen while the zygote is idle, not on a request's path.
        self.park_target = max(0, int(parked))
        self.prefault = True      # parked children take their first-touch faults while they wait
        # The pages a sandbox of this zygote was seen to write ([address, pages] pairs, from thawd's
        # "profile"): what parked children pre-fault, instead of every private page.
        self.touch_ranges = None
        # Morula (fresh mode): parked children exec a fresh interpreter that imports these
        # {"modules": [...], "paths": [...]}, and every fork request goes to one of them.
        self.fresh = None
        # Parked children not claimed yet (Sandbox records, oldest first). thawd holds each one's
        # socket and sends it a spawn directly: the zygote learns of the claim from its status pipe.
        self.parked = []
        self.info = info or {}    # told thawd in the hello reply (a child zygote: what it imported)
        # thawd said goodbye before closing (it stopped or let this zygote go): its other sandboxes
        # live on. A close without goodbye is a crash: see kill_instance_sandboxes.
        self.goodbye = False
        self.thawd_gone = False
        self.native = native      # libthawspawn, loaded before the chroot, or None
        self.sandboxes = {}       # id -> Sandbox
        self.by_pid = {}          # pid -> Sandbox
        self.by_pipe = {}         # status pipe fd -> Sandbox
        # The zygote's own pid namespace, to undo unshare(CLONE_NEWPID) after every spawn.
        self.own_pidns = own_pidns
        self.poll = select.poll()
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)
        # Now that the dispositions are final: the native children reset only those, and the
        # capability bounding set is emptied here once instead of in every child.
        if native is not None:
            err = native.thaw_init()
            if err < 0:
                raise OSError(-err, f"thaw_init: {os.strerror(-err)}")
        else:
            drop_bounding_set()
        self.poll.register(conn.fileno(), select.POLLIN)
        self.poll.register(self.wake_r, select.POLLIN)

    def send(self, **message):
        self.conn.send(json.dumps(message, separators=(",", ":")).encode())

    def serve(self):
        refilling = False
        while True:
            # Short of parked children: fork one once the zygote has been idle for a moment and no
            # sandbox is mid-start (a refill next to a start would slow it by a fork's worth), then
            # the next one at once while nothing else arrives: a target of 50 refills in the pause
            # between two bursts, and any request still finds the zygote within one fork.
            short = len(self.parked) < self.park_target
            events = self.poll.poll((0 if refilling else PARK_WHEN_IDLE_MS) if short else None)
            if not events:
                refilling = short and all(sb.parked for sb in self.by_pipe.values())
                if refilling:
                    self.park()
                continue
            refilling = False
            for fd, _ in events:
                if fd == self.conn.fileno():
                    if not self.receive():
                        return
                elif fd == self.wake_r:
                    try:
                        while os.read(self.wake_r, 256):
                            pass
                    except BlockingIOError:
                        pass
                    self.reap()
                elif fd in self.by_pipe:
                    self.read_status(self.by_pipe[fd])

    def receive(self):
        try:
            # Close-on-exec from the start: no sandbox may inherit another's descriptors.
            data, fds, flags, _ = socket.recv_fds(self.conn, MAX_MESSAGE, MAX_FDS, socket.MSG_CMSG_CLOEXEC)
        except ConnectionResetError:
            # thawd died with data of ours unread: its crash, as a plain close without goodbye is
            self.thawd_gone = not self.goodbye
            return False
        if not data and not fds:
            # thawd closed the connection: it said goodbye, or it crashed (the kernel closed it)
            self.thawd_gone = not self.goodbye
            return False
        req = None
        try:
            if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
                raise ValueError("message or fd list truncated")
            req = json.loads(data)
            op = req.get("op")
            if op == "spawn":
                req["_raw"] = data  # a parked child gets the request as it came, not re-encoded
                self.spawn(req, fds)
            elif op == "kill":
                self.kill(req)
            elif op == "park":
                self.park_target = max(0, min(MAX_PARKED, int(req["target"])))
            elif op == "profile":
                flat = [int(v) for r in req["ranges"] for v in r[:2]]
                self.touch_ranges = array.array("Q", flat) if flat else None
            elif op == "goodbye":
                self.goodbye = True
                return False
            elif op == "hello":
                ok = req.get("version") == PROTOCOL_VERSION
                self.send(op="hello" if ok else "error", version=PROTOCOL_VERSION, pid=os.getpid(),
                          **(self.info if ok else {"error": f"protocol version {req.get('version')} not supported"}))
            elif op == "fork-zygote":
                self.fork_zygote(req, fds)
            else:
                raise ValueError(f"unknown op {op!r}")
        except Exception as e:  # a bad request is answered, never fatal to the zygote
            sid = req.get("id") if isinstance(req, dict) else None
            self.send(op="error", id=sid, error=f"{type(e).__name__}: {e}")
        finally:
            for fd in fds:
                os.close(fd)
        return True

    def spawn(self, req, fds):
        sid = req["id"]
        if sid in self.sandboxes:
            raise ValueError(f"sandbox {sid} already exists")
        named = name_spawn_fds(req, fds)
        if self.fresh is not None:
            self.spawn_fresh(req, fds)
            return
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        vforked = False
        try:
            if req.get("via", "fork") == "helper":
                pid, vforked = self.spawn_native(req, named, status_w)
            else:
                pid = self.fork_child(req, named, status_w)
        finally:
            os.close(status_w)
        os.set_blocking(status_r, False)
        sb = Sandbox(sid, pid, status_r)
        self.sandboxes[sid] = sb
        self.by_pid[pid] = sb
        if vforked:
            # clone(CLONE_VFORK) returned: the child has exec'd, or has exited after writing its
            # error. "exec" and nothing else means the program runs: say so in the reply and save
            # thawd a wakeup (and the pipe a poll round).
            try:
                sb.buffer = os.read(status_r, 4096)
            except BlockingIOError:
                pass
            if sb.buffer == b"exec\n":
                os.close(status_r)
                sb.status_r, sb.buffer, sb.exec_seen, sb.started = None, b"", True, True
                self.send(op="spawned", id=sid, pid=pid, started=True)
                return
            self.take_status(sb)
        self.by_pipe[status_r] = sb
        self.poll.register(status_r, select.POLLIN)
        self.send(op="spawned", id=sid, pid=pid)

    def spawn_native(self, req, named, status_w):
        """The exec runtime's fast path: libthawspawn's vfork-style clone, all setup in C (thaw-spawn.c)."""
        if self.native is None:
            raise ValueError("this zygote was started without libthawspawn")
        namespaces = req.get("namespaces", [])
        spec = native_spec(req, named, status_w)
        # vfork only if the child will not block on start: the zygote waits until it execs.
        spec.vfork = int("start" not in named or bool(req.get("prestarted")))
        spec.new_pid = int("pid" in namespaces)
        pid = self.native.thaw_spawn(ctypes.byref(spec))
        if pid < 0:
            raise OSError(-pid, f"clone: {os.strerror(-pid)}")
        return pid, bool(spec.vfork)

    def fork_child(self, req, named, status_w):
        # Born pid 1 of a new pid namespace: unshared for the zygote's children only, so no second
        # fork is needed (one Python fork costs milliseconds on a VM), and undone right after. (thawd
        # sends most such spawns straight to a parked child; this is the path when none is left.)
        new_pidns = "pid" in req.get("namespaces", [])
        if new_pidns:
            check(libc.unshare(CLONE_NEWPID), "unshare(pid)")
        try:
            return self.fork(req, named, status_w)
        finally:
            if new_pidns:
                check(libc.setns(self.own_pidns, CLONE_NEWPID), "setns(own pid namespace)")

    def spawn_fresh(self, req, fds):
        """A fresh (Morula) zygote's spawn that thawd could not send to a parked interpreter itself:
        one is started now, kept by the zygote, and gets the request (it waits in its socket)."""
        if "pid" not in req.get("namespaces", []):
            raise ValueError("a fresh (Morula) zygote's sandboxes need the pid namespace")
        sb = self.park(publish=False)
        try:
            sb.sock.send(JOIN)  # no cgroup: this spawn carries its own
            socket.send_fds(sb.sock, [req["_raw"]], fds)
        finally:
            sb.sock.close()
            sb.sock = None
        sb.id = req["id"]
        self.sandboxes[sb.id] = sb
        self.send(op="spawned", id=sb.id, pid=sb.pid)

    def fork(self, req, named, status_w):
        # Built before the fork: in the child every Python object touched is a copy-on-write fault.
        spec = native_spec(req, named, status_w) if self.native is not None else None
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            become_sandbox(self.native, req, named, status_w, spec)
        return pid

    def leave(self):
        """In a forked child that will not serve this zygote's connection (a parked child, a child
        zygote): nothing of the zygote's may stay reachable, its connection, wake pipe or sandboxes' (and
        parked children's) status pipes. Its sandboxes are not this process's children."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        self.conn.close()
        for fd in [self.wake_r, self.wake_w, *self.by_pipe]:
            os.close(fd)

    def park(self, publish=True):
        """Forks a child that waits to become a sandbox: born pid 1 of a new pid namespace, still in
        the zygote's own sandbox, its after-fork work and the runtime's warm-up already done. Its
        status pipe is made now (the child keeps the write end). Published: thawd gets the other end
        of the child's socket in a "parked" event and claims the child without the zygote."""
        here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        check(libc.unshare(CLONE_NEWPID), "unshare(pid)")
        try:
            pid = os.fork()
            if pid == 0:
                try:
                    here.close()
                    os.close(status_r)
                    self.wait_parked(there, status_w)
                finally:
                    os._exit(EXIT_SETUP_FAILED)
        finally:
            check(libc.setns(self.own_pidns, CLONE_NEWPID), "setns(own pid namespace)")
            there.close()
            os.close(status_w)
        os.set_blocking(status_r, False)
        sb = Sandbox(None, pid, status_r)
        sb.parked = publish  # a kept one is claimed by the request it was forked for
        self.by_pid[pid] = sb
        self.by_pipe[status_r] = sb
        self.poll.register(status_r, select.POLLIN)
        if publish:
            try:
                socket.send_fds(self.conn, [json.dumps({"op": "parked", "pid": pid}, separators=(",", ":")).encode()], [here.fileno()])
            finally:
                here.close()
            self.parked.append(sb)
        else:
            sb.sock = here
        # The fork shared every page with the child: the zygote's next request would copy the pages
        # it writes, one fault each. Take those faults now, while idle (a Morula child execs at once).
        if self.fresh is None:
            warm_requests(self.native)
        return sb

    def wait_parked(self, sock, status_w):
        """The parked child: drop the zygote's descriptors, join its cgroup, pre-fault (or, Morula, exec a
        fresh interpreter), then wait to be claimed."""
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the zygote gone: so is this child
        self.leave()
        await_join(sock, status_w)
        if self.fresh is not None:
            # Morula: a fresh interpreter instead of this fork's copy of the zygote's memory.
            fd = os.dup(sock.fileno())
            os.set_inheritable(fd, True)  # the two descriptors the fresh interpreter keeps
            os.set_inheritable(status_w, True)
            config = {"morula": True, "socket_fd": fd, "status_fd": status_w, "native": NATIVE_PATH if self.native else None,
                      "seccomp": SECCOMP_HEX, **self.fresh}
            os.execv(sys.executable, [sys.executable, "-I", "-S", os.path.join(HERE, "zygote.py"), json.dumps(config)])
        warm_parked(self.native)
        # Until thawd learned what sandboxes touch, nothing: a sandbox from a child that copied the
        # whole heap would show thawd every page as its own.
        if self.native is not None and self.prefault and PROC_FD >= 0 and self.touch_ranges is not None:
            address, _ = self.touch_ranges.buffer_info()
            self.native.thaw_prefault_ranges(PROC_FD, address, len(self.touch_ranges) // 2)
        await_claim(sock, self.native, status_w)

    def fork_zygote(self, req, fds):
        """A child zygote for the import cache: a fork of this one that imports more modules and
        serves its own connection (the one fd of the request, its other end kept by thawd)."""
        if req.get("fds") != ["conn"] or len(fds) != 1:
            raise ValueError("fork-zygote needs exactly one fd, named conn")
        modules = [m for m in req.get("modules", []) if isinstance(m, str) and m]
        paths = [p for p in req.get("paths", []) if isinstance(p, str) and p]
        pid = os.fork()
        if pid == 0:
            try:
                self.become_child(fds[0], modules, paths, req.get("parked", self.park_target), bool(req.get("fresh")))
            finally:
                os._exit(1)
        # Reaped like any child (reap ignores pids that are not sandboxes); thawd sees its connection close.
        self.send(op="zygote-forked", id=req.get("id"), pid=pid)

    def become_child(self, conn_fd, modules, paths, parked, fresh=False):
        self.leave()
        started = time.monotonic()
        for path in reversed(paths):
            if path not in sys.path:
                sys.path.insert(0, path)
        failed = []
        for name in [] if fresh else modules:
            try:
                importlib.import_module(name)
            except BaseException as e:  # noqa: B036 -- a module that cannot load is reported, never fatal
                failed.append(f"{name}: {type(e).__name__}: {e}")
        # Everything imported so far is shared with every fork: keep the collector from touching
        # (and so copying) those objects in the children.
        gc.freeze()
        info = {"imported": 0 if fresh else len(modules) - len(failed), "failed": failed, "import_ms": round((time.monotonic() - started) * 1000, 3)}
        child = Zygote(socket.socket(fileno=conn_fd), self.native, self.own_pidns, info, parked)
        child.prefault = self.prefault
        if fresh:
            child.fresh = {"modules": modules, "paths": paths}
        try:
            child.serve()
        finally:
            child.shutdown()
        os._exit(0)

    def kill(self, req):
        # A child thawd claimed directly is known by its pid (it may not have said anything yet).
        sb = self.sandboxes.get(req.get("id")) or self.by_pid.get(req.get("pid"))
        if sb is not None and sb.exited is None:
            os.kill(sb.pid, int(req.get("signal", signal.SIGKILL)))

    def read_status(self, sb):
        """Reads what the status pipe holds now; True if there may be more."""
        try:
            chunk = os.read(sb.status_r, 4096)
        except BlockingIOError:
            return False
        if sb.parked:
            sb.parked = False  # claimed by thawd: it said something, or died
            self.parked.remove(sb)
        if chunk:
            sb.buffer += chunk
            self.take_status(sb)
            return True
        # EOF: the sandbox has exec'd (or died).
        self.poll.unregister(sb.status_r)
        del self.by_pipe[sb.status_r]
        os.close(sb.status_r)
        sb.status_r = None
        self.report(sb)
        return False

    @staticmethod
    def take_status(sb):
        """Consumes the complete lines in the sandbox's status buffer."""
        while b"\n" in sb.buffer:
            line, sb.buffer = sb.buffer.split(b"\n", 1)
            kind, _, rest = line.decode(errors="replace").partition(" ")
            if kind == "error":
                sb.error = rest
            elif kind == "exec":
                sb.exec_seen = True

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            sb = self.by_pid.pop(pid, None)
            if sb is not None:
                sb.exited = status
                while sb.status_r is not None and self.read_status(sb):
                    pass  # the error line, if the child wrote one before it died
                self.report(sb)

    def report(self, sb):
        # Started: it said "exec" and the pipe closed (execve succeeded) with no error after it.
        if sb.exec_seen and sb.error is None and not sb.started and sb.status_r is None:
            sb.started = True
            self.send(op="started", id=sb.id, pid=sb.pid)
        # The exit once the sandbox is reaped and its status pipe has said all it will. A child that
        # died parked (never claimed) is reported too: thawd drops its socket.
        if sb.exited is None or sb.status_r is not None or sb.reported:
            return
        sb.reported = True
        status = sb.exited
        self.sandboxes.pop(sb.id, None)
        self.send(op="exit", id=sb.id, pid=sb.pid,
                  code=os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                  signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                  error=sb.error)

    def shutdown(self):
        # thawd is gone: nothing may outlive it. Kill every sandbox and parked child, then reap.
        self.parked = []
        for sb in self.by_pid.values():
            if sb.exited is None:
                try:
                    os.kill(sb.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.thawd_gone:
            kill_instance_sandboxes()
        signal.set_wakeup_fd(-1)
        # Bounded: a child that cannot die (frozen in a cgroup the net does not reach) must not keep
        # this zygote, and with it its parent, alive for good.
        deadline = time.monotonic() + CRASH_NET_S
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                time.sleep(0.005)


def kill_instance_sandboxes():
    """thawd died without goodbye: kill what it started itself too (the exec sandboxes it clones,
    which are its children, not the zygote's, and which PR_SET_PDEATHSIG cannot tie to it: that
    follows the cloning thread, and .NET retires pool threads). Every process in every cgroup of
    the instance but the zygote's own is a sandbox's. A frozen (idle warm) sandbox cannot die until
    it is thawed, so every cgroup is thawed after its processes were sent SIGKILL (they die as they
    wake, before they run). Until a few scans in a row find none: a process may fork while the kill
    runs (pids.max bounds it), a sandbox mid-start joins late."""
    if INSTANCE_CGROUPS is None:
        return
    dirs, own = INSTANCE_CGROUPS
    deadline = time.monotonic() + CRASH_NET_S
    quiet = 0
    while quiet < 3 and time.monotonic() < deadline:
        found = 0
        for dir_fd in dirs:
            for name in os.listdir(dir_fd):
                if name == own or not name.startswith("sb-"):
                    continue
                for pid in cgroup_pids(dir_fd, name):
                    found += 1
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                thaw_cgroup(dir_fd, name)
        quiet = quiet + 1 if found == 0 else 0
        time.sleep(0.01)


def cgroup_pids(dir_fd, name):
    try:
        fd = os.open(f"{name}/cgroup.procs", os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            return [int(pid) for pid in os.read(fd, 1 << 20).split()]
        finally:
            os.close(fd)
    except (OSError, ValueError):
        return []  # removed meanwhile, or not a cgroup


def thaw_cgroup(dir_fd, name):
    """Lets a frozen cgroup's killed processes die: cgroup v1's freezer.state THAWED, or on cgroup v2
    cgroup.kill (which kills frozen tasks too) and cgroup.freeze 0. A file the hierarchy lacks is skipped."""
    for file, value in (("freezer.state", b"THAWED"), ("cgroup.kill", b"1"), ("cgroup.freeze", b"0")):
        try:
            fd = os.open(f"{name}/{file}", os.O_WRONLY | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError:
            continue
        try:
            os.write(fd, value)
        except OSError:
            pass
        finally:
            os.close(fd)


def enter_own_root(root):
    """A mount namespace holding only the zygote's root (a handful of mounts), pivoted into.

    Every sandbox's mount namespace is a copy of this one, so its cost no longer grows with thawd's
    mount table (each pooled root and netns adds mounts there). If pivot_root is refused (a root on
    initramfs), a chroot in thawd's namespace still works: sandboxes then copy that one.
    """
    unshared = False
    try:
        check(libc.unshare(CLONE_NEWNS), "unshare(mnt)")
        unshared = True
        check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
        os.chdir(root)
        # pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the new.
        check(libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
        check(libc.umount2(b".", MNT_DETACH), "umount old root")
    except OSError as e:
        print(f"zygote: {e}; chrooting instead", file=sys.stderr, flush=True)
        if unshared:
            # A sandbox makes its copy of "/" private before it mounts anything, which the kernel
            # allows only on the root of a mount: a bind of the root onto itself is one.
            try:
                check(libc.mount(root.encode(), root.encode(), None, MS_BIND | MS_REC, None), "bind root")
            except OSError as bind:
                print(f"zygote: {bind}", file=sys.stderr, flush=True)
        os.chroot(root)


def load_native(path):
    if not path:
        return None
    native = ctypes.CDLL(path)
    native.thaw_spawn.argtypes = [ctypes.POINTER(ThawSpawn)]
    native.thaw_spawn.restype = ctypes.c_int
    native.thaw_enter.argtypes = [ctypes.POINTER(ThawSpawn)]
    native.thaw_enter.restype = ctypes.c_int
    native.thaw_init.argtypes = []
    native.thaw_init.restype = ctypes.c_int
    native.thaw_prefault_ranges.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_long]
    native.thaw_prefault_ranges.restype = ctypes.c_long
    native.thaw_spawn_layout.argtypes = [ctypes.POINTER(ctypes.c_size_t), ctypes.c_size_t]
    native.thaw_spawn_layout.restype = ctypes.c_size_t
    return native


def morula(config):
    """A Morula interpreter: exec'd by a fresh-mode zygote (so its address space layout and hash
    seed are its own, not a fork's copy), it imports the function's packages, warms up and waits,
    like a parked child, to become one sandbox."""
    sock = socket.socket(fileno=config["socket_fd"])
    os.set_inheritable(sock.fileno(), False)
    os.set_inheritable(config["status_fd"], False)
    native = load_native(config.get("native"))
    if native is not None:
        err = native.thaw_init()  # records this interpreter's own signal dispositions
        if err < 0:
            raise OSError(-err, f"thaw_init: {os.strerror(-err)}")
    set_filter(config.get("seccomp"))
    for path in reversed(config.get("paths", [])):
        sys.path.insert(0, path)
    for name in config.get("modules", []):
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: B036 -- the sandbox will report the import error itself
            pass
    gc.freeze()
    warm_parked(native)
    await_claim(sock, native, config["status_fd"])
    return EXIT_SETUP_FAILED


def accept_thawd(listener, watch_stdin):
    """thawd's one connection, or None: it did not come within ACCEPT_TIMEOUT_S, or thawd died
    first. With watch_stdin, stdin is a pipe only thawd holds the other end of: its end of file is
    thawd's death (a crash between this zygote's start and its connect would otherwise leave it
    waiting out the timeout, after every other process of the instance is gone)."""
    poll = select.poll()
    poll.register(listener.fileno(), select.POLLIN)
    if watch_stdin:
        poll.register(0, select.POLLIN)
    deadline = time.monotonic() + ACCEPT_TIMEOUT_S
    while (left := deadline - time.monotonic()) > 0:
        for fd, _ in poll.poll(left * 1000):
            if fd == listener.fileno():
                conn, _ = listener.accept()
                return conn
            if not os.read(0, 4096):
                print("zygote: thawd is gone before it connected", file=sys.stderr, flush=True)
                return None
    print("zygote: thawd did not connect in time", file=sys.stderr, flush=True)
    return None


def boot(config):
    """Enter the zygote's own lean sandbox, then serve the one connection thawd makes."""
    if config.get("morula"):
        return morula(config)
    # Nothing of thawd's environment belongs in a sandbox; an empty one also makes setting each
    # sandbox's environment cheap.
    os.environ.clear()
    for path in config.get("cgroup_procs", []):
        with open(path, "w") as f:
            f.write("0")
    if config.get("netns"):
        fd = os.open(config["netns"], os.O_RDONLY | os.O_CLOEXEC)
        check(libc.setns(fd, CLONE_NEWNET), "setns(zygote netns)")
        os.close(fd)
    # The zygote's own pid namespace, to undo unshare(CLONE_NEWPID) after every spawn; opened
    # before the chroot, whose root has no /proc.
    own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    global PROC_FD, INSTANCE_CGROUPS
    PROC_FD = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    if config.get("cgroup_procs"):
        owns = [os.path.dirname(procs) for procs in config["cgroup_procs"]]  # <hierarchy>/<instance>/sb-N
        INSTANCE_CGROUPS = ([os.open(os.path.dirname(own), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC) for own in owns],
                            os.path.basename(owns[0]))
    native = load_native(config.get("native"))
    set_filter(config.get("seccomp"))
    global HERE, NATIVE_PATH
    NATIVE_PATH = config.get("native")
    if config.get("root"):
        enter_own_root(config["root"])
        # The zygote folder, as its own root holds it: Morula interpreters exec from here.
        HERE = "/handler"
        NATIVE_PATH = NATIVE_PATH and os.path.join(HERE, os.path.basename(NATIVE_PATH))
    os.chdir("/")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(config["socket"])
    listener.listen(1)
    print(f"ready {PROTOCOL_VERSION} {os.getpid()}", flush=True)
    try:
        conn = accept_thawd(listener, bool(config.get("watch_stdin")))
    finally:
        listener.close()
        os.unlink(config["socket"])
    if conn is None:
        return 1
    zygote = Zygote(conn, native, own_pidns, parked=config.get("parked", 0))
    zygote.prefault = bool(config.get("prefault", True))
    try:
        zygote.serve()
    finally:
        zygote.shutdown()
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: zygote.py CONFIG_JSON  (started by thawd; see PROTOCOL.md)", file=sys.stderr)
        sys.exit(2)
    sys.exit(boot(json.loads(sys.argv[1])))
