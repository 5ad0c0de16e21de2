using System.Runtime.InteropServices;

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
    /// architecture (and, on x86-64, its 32-bit and x32 ABIs, so a syscall made through those
    /// meets the same rules instead of slipping past them). Throws when libseccomp is missing.
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
            if (RuntimeInformation.ProcessArchitecture == Architecture.X64)
                foreach (uint arch in new[] { Libseccomp.ArchX86, Libseccomp.ArchX32 })
                    Check(Libseccomp.ArchAdd(context, arch), "seccomp_arch_add");
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
