/*
 * libthawspawn: how the exec runtime enters a sandbox, loaded into the zygote with ctypes.
 *
 * thaw_spawn() does what the zygote's forked child does (src/python/zygote.py, enter_sandbox), but
 * from a clone(CLONE_VM | CLONE_VFORK) child running this C code: no copy of the Python
 * interpreter's page tables (a Python fork costs milliseconds on a VM), and no exec of a helper
 * binary before the program's own exec (each exec costs ~1.5 ms here). The same construction as
 * posix_spawn and dotnet's pal_process.c: all signals blocked around the clone, handlers reset in
 * the child, only syscalls and async-signal-safe calls between clone and execve.
 *
 * The child is born pid 1 of a new pid namespace (CLONE_NEWPID), enters the netns, unshares the
 * rest, attaches its root tree and chroots there (or chroots into a root dir without a mount
 * namespace), joins the cgroup, mounts /proc, sets the hostname and stdio, drops every privilege,
 * waits for start and execs; its status pipe gets the lines PROTOCOL.md describes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stddef.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

#define EXIT_SETUP_FAILED 126
#define EXIT_EXEC_FAILED 127
#define STACK_SIZE (256 * 1024)
#define ATTACH_POINT "/packages" /* see ATTACH_POINT in zygote.py */

/* Mirrored by ThawSpawn in zygote.py: keep the two in the same order. */
struct thaw_spawn {
    int root;        /* the root dir (chrooted into when there is no tree) */
    int tree;        /* the root as a detached mount tree (open_tree), or -1 */
    int netns, in, out, err, status, start;
    int keep;        /* one more fd the child keeps (the Python runtime's invoke socket), or -1 */
    const int *cgroups;
    int ncgroups;
    int ns_flags;    /* CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS (with NEWNS the chroot comes after the unshare) */
    int new_pid;     /* born pid 1 of a new pid namespace */
    int mount_proc;  /* its own /proc (needs new_pid and CLONE_NEWNS) */
    int vfork;       /* share memory until exec: only when the child will not wait for start */
    unsigned uid, gid;
    const char *hostname, *cwd;
    char *const *argv, *const *envp;
    int mntns;       /* a mount namespace to enter first (thawd's own spawns: the zygote's small one), or -1 */
    int pidfd;       /* out: the child's pidfd when want_pidfd (CLONE_PIDFD), else -1 */
    int want_pidfd;
    int direct;      /* cloned by thawd itself: dispositions unknown (all reset), bounding set still full */
    sigset_t mask;   /* the caller's signal mask, restored in the child before exec */
    const struct sock_filter *filter; /* seccomp filter installed last in the setup (SandboxSeccomp.cs), or NULL */
    unsigned filter_length;           /* its instructions */
};

/* The struct's size and each field's offset, in declaration order: thawd's and the zygote's
   mirrors of it are checked against these (tests: NativeSpawnLayoutTests, test_zygote.py). */
#define FIELD(f) offsetof(struct thaw_spawn, f)
static const size_t layout[] = {
    sizeof(struct thaw_spawn), FIELD(root), FIELD(tree), FIELD(netns), FIELD(in), FIELD(out), FIELD(err), FIELD(status),
    FIELD(start), FIELD(keep), FIELD(cgroups), FIELD(ncgroups), FIELD(ns_flags), FIELD(new_pid), FIELD(mount_proc),
    FIELD(vfork), FIELD(uid), FIELD(gid), FIELD(hostname), FIELD(cwd), FIELD(argv), FIELD(envp), FIELD(mntns), FIELD(pidfd),
    FIELD(want_pidfd), FIELD(direct), FIELD(mask), FIELD(filter), FIELD(filter_length),
};
#undef FIELD

/* Copies up to n entries of the layout above into out; returns how many there are. */
size_t thaw_spawn_layout(size_t *out, size_t n) {
    size_t count = sizeof layout / sizeof layout[0];
    for (size_t i = 0; i < n && i < count; i++)
        out[i] = layout[i];
    return count;
}

/* Set by thaw_init in the zygote, inherited (as memory) by every child it clones or forks. */
static sigset_t not_default;      /* signals whose disposition in the zygote is not SIG_DFL */
static int dispositions_known;
static int bounding_dropped;      /* the zygote's capability bounding set is already empty */

/* The highest capability this kernel knows, found once by the caller (a child inherits it as
   memory): a child then drops 0..last_cap, one syscall each, without probing each first. */
static int last_cap = -1;

static void find_last_cap(void) {
    if (last_cap < 0) {
        int cap = 0;
        while (prctl(PR_CAPBSET_READ, cap + 1, 0, 0, 0) >= 0)
            cap++;
        last_cap = cap;
    }
}

static int drop_bounding_set(void) {
    if (last_cap < 0)
        find_last_cap();
    for (int cap = 0; cap <= last_cap; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            return -1;
    return 0;
}

/* Called once by the zygote after it set up its own signal handling (and again if that changes):
   records which dispositions a child must reset, and empties the zygote's capability bounding set,
   which only limits what an exec can gain (the zygote never execs; its children drop root before
   theirs) and is inherited: no child has to drop it again. Returns 0 or -errno. */
int thaw_init(void) {
    /* Root's inheritable set is what an exec by root keeps once the bounding set is empty: the
       zygote keeps it full, so a Morula interpreter it execs still holds root's capabilities to
       enter its sandbox. Every sandbox clears it (capset below) before anything runs. */
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct caps[2];
    if (syscall(SYS_capget, &header, caps) < 0)
        return -errno;
    caps[0].inheritable = caps[0].permitted;
    caps[1].inheritable = caps[1].permitted;
    if (syscall(SYS_capset, &header, caps) < 0)
        return -errno;
    sigemptyset(&not_default);
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction old;
        if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, NULL, &old) == 0 && old.sa_handler != SIG_DFL)
            sigaddset(&not_default, sig);
    }
    dispositions_known = 1;
    if (drop_bounding_set() < 0)
        return -errno;
    bounding_dropped = 1;
    return 0;
}

static void say(int fd, const char *a, const char *b, int err) {
    /* write(2) only: no stdio, no malloc, no locale in a vfork child. */
    const char *e = err ? strerrordesc_np(err) : NULL;
    const char *parts[] = { "error ", a, b ? " " : "", b ? b : "", e ? ": " : "", e ? e : "", "\n" };
    for (unsigned i = 0; i < sizeof parts / sizeof *parts; i++)
        if (write(fd, parts[i], strlen(parts[i])) < 0)
            return;
}

#define FAIL(code, what, detail) do { say(s->status, what, detail, errno); _exit(code); } while (0)

/* Closes every fd from 3 up except the (up to three) given; negative ones are ignored. */
static void close_all_but(int a, int b, int c) {
    int keep[3] = { a, b, c };
    for (int i = 0; i < 3; i++)            /* sort the three: insertion sort, no libc */
        for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int t = keep[j]; keep[j] = keep[j - 1]; keep[j - 1] = t;
        }
    unsigned next = 3;
    for (int i = 0; i < 3; i++) {
        if (keep[i] < (int)next) continue;
        if ((unsigned)keep[i] > next) syscall(SYS_close_range, next, (unsigned)keep[i] - 1, 0);
        next = (unsigned)keep[i] + 1;
    }
    syscall(SYS_close_range, next, ~0U, 0);
}

/* Everything between "born" and "exec": namespaces, root, cgroup, /proc, hostname, stdio, fds,
   privileges, working dir, the wait for start. Exits (reporting on the status pipe) on failure. */
static void enter(const struct thaw_spawn *s) {
    /* From thawd: its mount namespace holds every pooled root and netns (hundreds of mounts); the
       copy unshare makes below must be of the zygote's small one, so enter that first. */
    if (s->mntns >= 0 && setns(s->mntns, CLONE_NEWNS) < 0) FAIL(EXIT_SETUP_FAILED, "setns(mnt)", NULL);
    if (setns(s->netns, CLONE_NEWNET) < 0) FAIL(EXIT_SETUP_FAILED, "setns(netns)", NULL);
    if (s->ns_flags & CLONE_NEWNS) {
        /* fchdir before unshare, every mount private right after it, then the root tree attached
           into the copy of the zygote's small mount namespace: see enter_sandbox in zygote.py. */
        if (s->tree < 0 && fchdir(s->root) < 0) FAIL(EXIT_SETUP_FAILED, "fchdir(root)", NULL);
        if (unshare(s->ns_flags) < 0) FAIL(EXIT_SETUP_FAILED, "unshare", NULL);
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) FAIL(EXIT_SETUP_FAILED, "make / private", NULL);
        if (s->tree >= 0) {
            if (syscall(SYS_move_mount, s->tree, "", AT_FDCWD, ATTACH_POINT, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                FAIL(EXIT_SETUP_FAILED, "move_mount(root)", NULL);
            if (chdir(ATTACH_POINT) < 0) FAIL(EXIT_SETUP_FAILED, "chdir(root)", NULL);
        }
        if (chroot(".") < 0) FAIL(EXIT_SETUP_FAILED, "chroot", NULL);
    } else {
        if (fchdir(s->root) < 0 || chroot(".") < 0) FAIL(EXIT_SETUP_FAILED, "chroot", NULL);
        if (s->ns_flags && unshare(s->ns_flags) < 0) FAIL(EXIT_SETUP_FAILED, "unshare", NULL);
    }
    for (int i = 0; i < s->ncgroups; i++)
        if (write(s->cgroups[i], "0", 1) < 0) FAIL(EXIT_SETUP_FAILED, "join cgroup", NULL);
    if (s->mount_proc && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        FAIL(EXIT_SETUP_FAILED, "mount /proc", NULL);
    if ((s->ns_flags & CLONE_NEWUTS) && s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
        FAIL(EXIT_SETUP_FAILED, "sethostname", NULL);
    if (dup2(s->in, 0) < 0 || dup2(s->out, 1) < 0 || dup2(s->err, 2) < 0) FAIL(EXIT_SETUP_FAILED, "dup2 stdio", NULL);
    close_all_but(s->status, s->start, s->keep);
    if (fcntl(s->status, F_SETFD, FD_CLOEXEC) < 0) FAIL(EXIT_SETUP_FAILED, "fcntl(status)", NULL);

    /* Bounding set first (needs CAP_SETPCAP; thaw_init empties the zygote's once, ~80 syscalls
       fewer per sandbox); leaving uid 0 clears permitted and effective caps; capset clears
       inheritable; NO_NEW_PRIVS stops setuid binaries and file capabilities. */
    if ((s->direct || !bounding_dropped) && drop_bounding_set() < 0) FAIL(EXIT_SETUP_FAILED, "prctl(PR_CAPBSET_DROP)", NULL);
    if (syscall(SYS_setgroups, 0, NULL) < 0) FAIL(EXIT_SETUP_FAILED, "setgroups", NULL);
    if (syscall(SYS_setresgid, s->gid, s->gid, s->gid) < 0) FAIL(EXIT_SETUP_FAILED, "setresgid", NULL);
    if (syscall(SYS_setresuid, s->uid, s->uid, s->uid) < 0) FAIL(EXIT_SETUP_FAILED, "setresuid", NULL);
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
    if (syscall(SYS_capset, &header, data) < 0) FAIL(EXIT_SETUP_FAILED, "capset", NULL);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) FAIL(EXIT_SETUP_FAILED, "prctl(PR_SET_NO_NEW_PRIVS)", NULL);
    /* Last, once nothing left needs what it denies (mounts, namespaces): from here on every
       syscall of the sandbox, and of the function's code, goes through it. */
    if (s->filter != NULL && s->filter_length > 0) {
        struct sock_fprog program = { (unsigned short)s->filter_length, (struct sock_filter *)s->filter };
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) < 0) FAIL(EXIT_SETUP_FAILED, "seccomp", NULL);
    }
    if (chdir(s->cwd) < 0) FAIL(EXIT_SETUP_FAILED, "chdir", s->cwd);

    if (s->start >= 0) {
        char go = 0;
        ssize_t n;
        while ((n = read(s->start, &go, 1)) < 0 && errno == EINTR) {}
        if (n != 1 || go != 's')
            _exit(0); /* thawd closed start without starting: deleted while created */
        close(s->start);
    }
}

static int child(void *arg) {
    const struct thaw_spawn *s = arg;
    /* Dispositions are the zygote's (Python's): handlers must not run here, and ignored signals
       (Python ignores SIGPIPE and SIGXFSZ) must not stay ignored in the program, as with
       subprocess's restore_signals. Only those thaw_init found are touched: a handful of
       syscalls instead of two per signal. */
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction old;
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        /* thawd's runtime may install handlers at any time: from there, every signal is reset
           (one syscall each) before the mask is lifted, as dotnet's own pal_process.c does. */
        if (s->direct ? 1
            : dispositions_known ? sigismember(&not_default, sig) == 1
                                 : sigaction(sig, NULL, &old) == 0 && old.sa_handler != SIG_DFL)
            sigaction(sig, &dfl, NULL);
    }
    sigprocmask(SIG_SETMASK, &s->mask, NULL);
    enter(s);
    if (write(s->status, "exec\n", 5) < 0) _exit(EXIT_SETUP_FAILED);
    execvpe(s->argv[0], s->argv, s->envp);
    FAIL(EXIT_EXEC_FAILED, "cannot execute", s->argv[0]);
}


/* Takes, now, the faults a forked child would take on first touch (~14 µs each on this VM): the
   copy-on-write fault of every private writable page it shares with its parent, and the mapping
   of every page of its private file mappings (the interpreter's and the packages' code: fork
   copies no page tables for those). A parked child calls it while it waits, so the sandbox it
   becomes, and the handler it runs, touch pages that are already its own and mapped. Shared
   mappings are left alone (a write there is everyone's). Returns the pages touched. */
/* The caller's own /proc/self/maps, NUL-terminated, in a static buffer (one thread: a parked child).
   proc: a directory fd of /proc, opened before the zygote entered its own root (which has no
   /proc); "self" in it is whoever asks. Null with errno set if it cannot be read. */
static char *read_own_maps(int proc) {
    int fd = openat(proc, "self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    static char buf[1 << 18]; /* a numpy+PIL zygote's maps are ~40 KiB; a longer file is read in part */
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = 0;
    return buf;
}

/* thaw_prefault with a profile: only the pages a sandbox of this zygote was seen to make its own
   (ranges of [address, pages] pairs, sorted, learned by thawd from a served sandbox's pagemap), and
   only where this process has a private writable mapping now. Touching every private page instead
   copies the zygote's whole heap into each child (8 MiB for the bare runtime, 37 MiB for numpy+PIL),
   most of which no sandbox ever writes. Returns the pages touched, or -errno. */
long thaw_prefault_ranges(int proc, const unsigned long *ranges, long count) {
    char *buf = read_own_maps(proc);
    if (buf == NULL)
        return -errno;
    long pages = 0;
    unsigned long page = (unsigned long)sysconf(_SC_PAGESIZE);
    long r = 0;
    for (char *line = buf; line && *line && r < count; ) {
        char *next = strchr(line, '\n');
        if (next) *next++ = 0;
        unsigned long lo, hi;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && perms[0] == 'r' && perms[1] == 'w' && perms[3] == 'p') {
            /* maps and ranges are both sorted: walk them together */
            while (r < count && ranges[2 * r] + ranges[2 * r + 1] * page <= lo)
                r++;
            for (long q = r; q < count && ranges[2 * q] < hi; q++) {
                unsigned long from = ranges[2 * q] > lo ? ranges[2 * q] : lo;
                unsigned long to = ranges[2 * q] + ranges[2 * q + 1] * page;
                if (to > hi) to = hi;
                for (unsigned long p = from; p < to; p += page, pages++) {
                    volatile char *c = (volatile char *)p;
                    *c = *c;  /* the copy-on-write fault */
                }
            }
        }
        line = next;
    }
    return pages;
}

/* For a child the zygote forked itself (os.fork): the same entry, in C, so the Python child runs
   almost no Python between fork and exec (every object it touches is a copy-on-write fault). */
int thaw_enter(struct thaw_spawn *s) {
    enter(s);
    return 0;
}

/* The child's stack, one per calling thread, kept for the thread's life: a vfork child runs on it
   while its caller waits, a fork-style child on its own copy, so the next spawn may reuse it (an
   mmap, its first-touch faults and an munmap fewer per sandbox). */
static pthread_key_t stack_key;
static pthread_once_t stack_once = PTHREAD_ONCE_INIT;

static void free_stack(void *stack) { munmap(stack, STACK_SIZE); }
static void make_stack_key(void) { pthread_key_create(&stack_key, free_stack); }

static char *thread_stack(void) {
    pthread_once(&stack_once, make_stack_key);
    char *stack = pthread_getspecific(stack_key);
    if (stack == NULL) {
        stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (stack == MAP_FAILED)
            return NULL;
        pthread_setspecific(stack_key, stack);
    }
    return stack;
}

/* Returns the child's pid (in the caller's pid namespace), or -errno if it could not be cloned. */
pid_t thaw_spawn(struct thaw_spawn *s) {
    char *stack = thread_stack();
    if (stack == NULL)
        return -errno;
    if (s->direct)
        find_last_cap(); /* here, once: the child only drops */
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &s->mask);
    /* CLONE_VFORK: this returns once the child has exec'd or exited, so its stack can go. A child
       that will wait for start must not hold the zygote that long: it gets a copy (fork) instead. */
    int share = s->vfork ? CLONE_VM | CLONE_VFORK : 0;
    s->pidfd = -1;
    pid_t pid = clone(child, stack + STACK_SIZE, share | (s->new_pid ? CLONE_NEWPID : 0) | (s->want_pidfd ? CLONE_PIDFD : 0) | SIGCHLD, s,
                      &s->pidfd);
    int err = errno;
    sigprocmask(SIG_SETMASK, &s->mask, NULL);
    return pid < 0 ? -err : pid;
}
