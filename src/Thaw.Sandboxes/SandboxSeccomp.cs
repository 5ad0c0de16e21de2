using Thaw.Linux.Seccomp;
using static Thaw.Linux.Seccomp.SeccompRule;

namespace Thaw.Sandboxes;

/// <summary>
/// The seccomp policy every sandbox runs under, on every spawn path: the syscalls Docker's default
/// profile (moby's profiles/seccomp/default.json) keeps from containers that a function has no use
/// for, denied with EPERM so programs see an error instead of being killed. Everything else is
/// allowed: a sandbox already runs with no capabilities, no_new_privs, its own pid, mount, ipc and
/// uts namespaces and a read-only root, so this is the layer that keeps function code away from
/// kernel code those do not guard (io_uring, bpf, perf, keyrings, module loading, handles) and away
/// from namespace and mount machinery altogether. Compiled once per process (<see cref="Program"/>);
/// each sandbox only installs it. docs/security.md lists the policy and why each entry is there.
/// </summary>
public static class SandboxSeccomp
{
    // clone(2) flags that make namespaces: CLONE_NEWTIME, NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.
    private static readonly ulong[] NamespaceFlags = [0x80, 0x20000, 0x2000000, 0x4000000, 0x8000000, 0x10000000, 0x20000000, 0x40000000];

    // personality(2) flags that weaken the address space: ADDR_NO_RANDOMIZE, MMAP_PAGE_ZERO,
    // ADDR_COMPAT_LAYOUT, READ_IMPLIES_EXEC, ADDR_LIMIT_32BIT, ADDR_LIMIT_3GB.
    private static readonly ulong[] UnsafePersonality = [0x0040000, 0x0100000, 0x0200000, 0x0400000, 0x0800000, 0x8000000];

    /// <summary>Every rule, in the order docs/security.md explains them.</summary>
    public static IReadOnlyList<SeccompRule> Rules { get; } =
    [
        // Kernel attack surface a function does not need: the main sources of kernel exploits.
        Deny("io_uring_setup"), Deny("io_uring_enter"), Deny("io_uring_register"),
        Deny("bpf"), Deny("perf_event_open"), Deny("userfaultfd"),
        Deny("keyctl"), Deny("add_key"), Deny("request_key"),
        // The machine's own: modules, kexec, swap, reboot, clocks, accounting, quotas.
        Deny("init_module"), Deny("finit_module"), Deny("delete_module"), Deny("create_module"),
        Deny("kexec_load"), Deny("kexec_file_load"), Deny("swapon"), Deny("swapoff"), Deny("reboot"),
        Deny("settimeofday"), Deny("clock_settime"), Deny("clock_adjtime"), Deny("stime"), Deny("acct"),
        Deny("quotactl"), Deny("quotactl_fd"), Deny("lookup_dcookie"), Deny("syslog"),
        Deny("ioperm"), Deny("iopl"), Deny("vhangup"), Deny("nfsservctl"), Deny("uselib"), Deny("ustat"),
        Deny("sysfs"), Deny("_sysctl"), Deny("vm86"), Deny("vm86old"), Deny("get_kernel_syms"), Deny("query_module"),
        // Files by handle bypass the path walk (the classic container escape, open_by_handle_at).
        Deny("open_by_handle_at"), Deny("name_to_handle_at"),
        // Mounts and namespaces: a sandbox's are made before its code runs, never by it.
        Deny("mount"), Deny("umount"), Deny("umount2"), Deny("pivot_root"), Deny("move_mount"), Deny("open_tree"),
        Deny("fsopen"), Deny("fsconfig"), Deny("fsmount"), Deny("fspick"), Deny("mount_setattr"),
        Deny("unshare"), Deny("setns"),
        // One rule per flag: the comparisons within one rule are ANDed.
        .. NamespaceFlags.Select(flag => DenyWhenBits("clone", 0, flag)),
        // clone3's flags are in memory a filter cannot read: ENOSYS, and libc's threads and
        // posix_spawn fall back to clone, whose flags it can.
        NotImplemented("clone3"),
        // NUMA placement of other processes' pages, and comparing kernel objects of other processes.
        Deny("mbind"), Deny("set_mempolicy"), Deny("migrate_pages"), Deny("move_pages"), Deny("kcmp"),
        .. UnsafePersonality.Select(bit => DenyWhenBits("personality", 0, bit)),
    ];

    private static readonly Lazy<SeccompProgram> Compiled = new(() => SeccompProgram.Compile(Rules), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The filter, compiled on first use (libseccomp, once per process).</summary>
    public static SeccompProgram Program => Compiled.Value;
}
