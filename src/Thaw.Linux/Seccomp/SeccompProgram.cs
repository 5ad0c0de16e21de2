namespace Thaw.Linux.Seccomp;

/// <summary>
/// A compiled seccomp filter: classic BPF, 8 bytes per instruction, ready for
/// <c>seccomp(SECCOMP_SET_MODE_FILTER)</c>. Compiled once; installing it is one syscall per sandbox.
/// </summary>
public sealed class SeccompProgram
{
    private SeccompProgram(byte[] bpf, IReadOnlyList<string> absent)
    {
        Bpf = bpf;
        Absent = absent;
    }

    public byte[] Bpf { get; }

    public int Instructions => Bpf.Length / 8;

    /// <summary>Rules whose syscall this machine's libseccomp does not know (a newer syscall than it): left out.</summary>
    public IReadOnlyList<string> Absent { get; }

    /// <summary>
    /// Compiles <paramref name="rules"/> over an allow-everything default for this machine's
    /// architecture only: a syscall through another ABI (i386's int 0x80, x32) kills the thread
    /// (libseccomp's bad-arch action) instead of slipping past the rules. One architecture keeps the
    /// program short, and the kernel runs it for every syscall number when it is installed (to cache
    /// the always-allowed ones), so its length is start-path time. Throws when libseccomp is missing.
    /// </summary>
    public static unsafe SeccompProgram Compile(IEnumerable<SeccompRule> rules)
    {
        nint context;
        try { context = Libseccomp.Init(Libseccomp.ActAllow); }
        catch (DllNotFoundException e)
        {
            throw new InvalidOperationException("seccomp needs libseccomp (Debian: apt-get install libseccomp2)", e);
        }
        if (context == 0)
            throw new InvalidOperationException("seccomp_init failed");
        try
        {
            // A binary tree over the syscall numbers instead of a linear list: fewer instructions per
            // syscall, and per syscall number the kernel emulates at install. Older libseccomp: linear.
            _ = Libseccomp.AttrSet(context, Libseccomp.AttrOptimize, 2);
            var absent = new List<string>();
            foreach (var rule in rules)
            {
                int number = Libseccomp.ResolveName(rule.Syscall);
                if (number == -1) // __NR_SCMP_ERROR: unknown to this libseccomp
                {
                    absent.Add(rule.Syscall);
                    continue;
                }
                uint action = Libseccomp.ActErrnoBase | (uint)(rule.Errno & 0xffff);
                if (rule.ArgIndex is { } arg)
                {
                    var compare = new Libseccomp.ArgCompare { Arg = (uint)arg, Op = Libseccomp.CompareMaskedEqual, DatumA = rule.ArgBits, DatumB = rule.ArgBits };
                    Check(Libseccomp.RuleAddArray(context, action, number, 1, &compare), $"seccomp_rule_add({rule.Syscall})");
                }
                else
                {
                    Check(Libseccomp.RuleAddArray(context, action, number, 0, null), $"seccomp_rule_add({rule.Syscall})");
                }
            }
            return new SeccompProgram(Export(context), absent);
        }
        finally
        {
            Libseccomp.Release(context);
        }
    }

    /// <summary>The BPF through a pipe (a filter is at most 4,096 instructions: 32 KiB, under a pipe's buffer).</summary>
    private static byte[] Export(nint context)
    {
        var (read, write) = Files.FileDescriptors.Pipe();
        using (read)
        {
            using (write)
                Check(Libseccomp.ExportBpf(context, write.Value), "seccomp_export_bpf");
            return Files.FileDescriptors.ReadToEnd(read, limit: 4096 * 8);
        }
    }

    private static void Check(int result, string call)
    {
        if (result < 0)
            throw new LinuxException(call, -result);
    }
}
