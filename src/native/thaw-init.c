/*
 * thaw-init: the exec runtime's way into a sandbox, the native alternative to forking the zygote.
 *
 * The zygote (src/python/zygote.py) starts it with posix_spawn (vfork semantics: no copy of the
 * Python interpreter's page tables, which is what makes a Python fork cost milliseconds here) with
 * the sandbox's resources as inherited fds. It does what the zygote's forked child does, in the
 * same order and with the same status-pipe lines (PROTOCOL.md): it is born pid 1 of the sandbox's
 * pid namespace (the zygote unshares it for its children), enters the netns, chroots, unshares the
 * rest, joins the cgroup, mounts /proc, sets the hostname and stdio, drops every privilege, waits for
 * start and execs. Statically linked: nothing to load, nothing to find inside the zygote's chroot.
 *
 * usage: thaw-init --root=FD --netns=FD --stdin=FD --stdout=FD --stderr=FD --status=FD
 *                  [--start=FD] [--cgroup=FD]... [--ns=ipc,uts,pid,mnt] [--uid=N] [--gid=N]
 *                  [--hostname=NAME] [--cwd=DIR] -- PROGRAM [ARG]...
 * The environment it is given is the sandbox's environment.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXIT_SETUP_FAILED 126
#define EXIT_EXEC_FAILED 127
#define MAX_CGROUPS 16

extern char **environ;

struct config {
    int root, netns, in, out, err, status, start;
    int cgroups[MAX_CGROUPS];
    int ncgroups;
    int ns_flags;
    int mount_proc;
    unsigned uid, gid;
    const char *hostname, *cwd;
    char **argv;
};

static int status_fd = -1;

/* Reports on the status pipe and exits: the zygote turns the line into the "exit" event's error. */
static void fail(int code, const char *fmt, ...) {
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (status_fd >= 0)
        dprintf(status_fd, "error %s\n", message);
    else
        fprintf(stderr, "thaw-init: %s\n", message);
    _exit(code);
}

static int number(const char *name, const char *value) {
    char *end;
    errno = 0;
    long n = strtol(value, &end, 10);
    if (errno || *end || n < 0 || n > 0x7fffffff)
        fail(EXIT_SETUP_FAILED, "bad value for --%s: '%s'", name, value);
    return (int)n;
}

static int namespaces(const char *list, int *mount_proc) {
    int flags = 0, mnt = 0, pid = 0;
    char copy[64];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *save, *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        if (!strcmp(name, "ipc")) flags |= CLONE_NEWIPC;
        else if (!strcmp(name, "uts")) flags |= CLONE_NEWUTS;
        else if (!strcmp(name, "pid")) pid = 1; /* already: the zygote spawned us as its pid 1 */
        else if (!strcmp(name, "mnt")) { flags |= CLONE_NEWNS; mnt = 1; }
        else fail(EXIT_SETUP_FAILED, "unknown namespace '%s'", name);
    }
    *mount_proc = mnt && pid;
    return flags;
}

static void parse(int argc, char **argv, struct config *c) {
    *c = (struct config){ .root = -1, .netns = -1, .in = -1, .out = -1, .err = -1, .status = -1, .start = -1,
                          .uid = 65534, .gid = 65534, .hostname = NULL, .cwd = "/" };
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        char *arg = argv[i], *eq = strchr(arg, '=');
        if (strncmp(arg, "--", 2) || !eq)
            fail(EXIT_SETUP_FAILED, "bad argument '%s' (see usage in thaw-init.c)", arg);
        *eq = 0;
        const char *key = arg + 2, *value = eq + 1;
        if (!strcmp(key, "root")) c->root = number(key, value);
        else if (!strcmp(key, "netns")) c->netns = number(key, value);
        else if (!strcmp(key, "stdin")) c->in = number(key, value);
        else if (!strcmp(key, "stdout")) c->out = number(key, value);
        else if (!strcmp(key, "stderr")) c->err = number(key, value);
        else if (!strcmp(key, "status")) status_fd = c->status = number(key, value);
        else if (!strcmp(key, "start")) c->start = number(key, value);
        else if (!strcmp(key, "cgroup")) {
            if (c->ncgroups == MAX_CGROUPS) fail(EXIT_SETUP_FAILED, "more than %d --cgroup fds", MAX_CGROUPS);
            c->cgroups[c->ncgroups++] = number(key, value);
        }
        else if (!strcmp(key, "ns")) c->ns_flags = namespaces(value, &c->mount_proc);
        else if (!strcmp(key, "uid")) c->uid = (unsigned)number(key, value);
        else if (!strcmp(key, "gid")) c->gid = (unsigned)number(key, value);
        else if (!strcmp(key, "hostname")) c->hostname = value;
        else if (!strcmp(key, "cwd")) c->cwd = value;
        else fail(EXIT_SETUP_FAILED, "unknown option --%s", key);
    }
    if (i + 1 >= argc)
        fail(EXIT_SETUP_FAILED, "no program after --");
    c->argv = argv + i + 1;
    if (c->root < 0 || c->netns < 0 || c->in < 0 || c->out < 0 || c->err < 0 || c->status < 0)
        fail(EXIT_SETUP_FAILED, "--root, --netns, --stdin, --stdout, --stderr and --status are required");
}

/* Closes every fd but the ones listed (sorted ascending, may hold -1). */
static void close_all_but(const int *keep, int n) {
    unsigned low = 0;
    for (int i = 0; i < n; i++) {
        if (keep[i] < 0 || (unsigned)keep[i] < low) continue;
        if ((unsigned)keep[i] > low)
            syscall(SYS_close_range, low, (unsigned)keep[i] - 1, 0);
        low = (unsigned)keep[i] + 1;
    }
    syscall(SYS_close_range, low, ~0U, 0);
}

static void drop_privileges(const struct config *c) {
    /* Bounding set first (needs CAP_SETPCAP); leaving uid 0 clears permitted and effective;
       capset clears inheritable; NO_NEW_PRIVS stops setuid binaries and file capabilities. */
    for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            fail(EXIT_SETUP_FAILED, "prctl(PR_CAPBSET_DROP, %d): %s", cap, strerror(errno));
    if (syscall(SYS_setgroups, 0, NULL) < 0) fail(EXIT_SETUP_FAILED, "setgroups: %s", strerror(errno));
    if (setresgid(c->gid, c->gid, c->gid) < 0) fail(EXIT_SETUP_FAILED, "setresgid(%u): %s", c->gid, strerror(errno));
    if (setresuid(c->uid, c->uid, c->uid) < 0) fail(EXIT_SETUP_FAILED, "setresuid(%u): %s", c->uid, strerror(errno));
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
    if (syscall(SYS_capset, &header, data) < 0) fail(EXIT_SETUP_FAILED, "capset: %s", strerror(errno));
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(EXIT_SETUP_FAILED, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
}

static void run_sandbox(const struct config *c) {
    if (c->mount_proc && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        fail(EXIT_SETUP_FAILED, "mount /proc: %s", strerror(errno));
    if ((c->ns_flags & CLONE_NEWUTS) && c->hostname && sethostname(c->hostname, strlen(c->hostname)) < 0)
        fail(EXIT_SETUP_FAILED, "sethostname: %s", strerror(errno));
    if (dup2(c->in, 0) < 0 || dup2(c->out, 1) < 0 || dup2(c->err, 2) < 0)
        fail(EXIT_SETUP_FAILED, "dup2 stdio: %s", strerror(errno));
    int keep[3] = { c->status, c->start, -1 };
    if (keep[0] > keep[1] && keep[1] >= 0) { keep[2] = keep[0]; keep[0] = keep[1]; keep[1] = keep[2]; keep[2] = -1; }
    int all[5] = { 0, 1, 2, keep[0], keep[1] };
    close_all_but(all, 5);
    fcntl(c->status, F_SETFD, FD_CLOEXEC);
    drop_privileges(c);
    if (chdir(c->cwd) < 0) fail(EXIT_SETUP_FAILED, "chdir %s: %s", c->cwd, strerror(errno));
    if (c->start >= 0) {
        char go = 0;
        ssize_t n;
        while ((n = read(c->start, &go, 1)) < 0 && errno == EINTR) {}
        if (n != 1 || go != 's')
            _exit(0); /* thawd closed start without starting: deleted while created */
        close(c->start);
    }
    dprintf(c->status, "exec\n");
    execvpe(c->argv[0], c->argv, environ);
    fail(EXIT_EXEC_FAILED, "cannot execute %s: %s", c->argv[0], strerror(errno));
}

int main(int argc, char **argv) {
    struct config c;
    parse(argc, argv, &c);
    if (setns(c.netns, CLONE_NEWNET) < 0) fail(EXIT_SETUP_FAILED, "setns(netns): %s", strerror(errno));
    /* chroot before unshare(CLONE_NEWNS): see enter_sandbox in zygote.py. */
    if (fchdir(c.root) < 0 || chroot(".") < 0) fail(EXIT_SETUP_FAILED, "chroot: %s", strerror(errno));
    if (c.ns_flags && unshare(c.ns_flags) < 0) fail(EXIT_SETUP_FAILED, "unshare: %s", strerror(errno));
    for (int i = 0; i < c.ncgroups; i++)
        if (write(c.cgroups[i], "0", 1) < 0) fail(EXIT_SETUP_FAILED, "join cgroup: %s", strerror(errno));
    run_sandbox(&c);
    return EXIT_SETUP_FAILED;
}
