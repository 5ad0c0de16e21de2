using System.Runtime.InteropServices;

namespace Thaw.Linux.Seccomp;

/// <summary>
/// libseccomp (Debian's libseccomp2, what runc and crun build their filters with): used once per
/// node to compile the sandboxes' filter to BPF, never on a start path. Loaded by its soname, so
/// only the runtime package is needed, not the -dev one.
/// </summary>
internal static unsafe partial class Libseccomp
{
    private const string Library = "libseccomp.so.2";

    internal const uint ActAllow = 0x7fff0000;
    internal const uint ActErrnoBase = 0x00050000;

    internal const int CompareEqual = 4;           // SCMP_CMP_EQ
    internal const int CompareMaskedEqual = 7;     // SCMP_CMP_MASKED_EQ: (arg & datum_a) == datum_b

    /// <summary>struct scmp_arg_cmp.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct ArgCompare
    {
        public uint Arg;
        public int Op;
        public ulong DatumA;
        public ulong DatumB;
    }

    [LibraryImport(Library, EntryPoint = "seccomp_init")]
    internal static partial nint Init(uint defaultAction);

    /// <summary>SCMP_FLTATR_CTL_OPTIMIZE: 2 sorts the syscalls into a binary tree (libseccomp 2.5+).</summary>
    internal const int AttrOptimize = 8;

    [LibraryImport(Library, EntryPoint = "seccomp_attr_set")]
    internal static partial int AttrSet(nint context, int attribute, uint value);

    [LibraryImport(Library, EntryPoint = "seccomp_release")]
    internal static partial void Release(nint context);

    [LibraryImport(Library, EntryPoint = "seccomp_syscall_resolve_name", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ResolveName(string name);

    [LibraryImport(Library, EntryPoint = "seccomp_rule_add_array")]
    internal static partial int RuleAddArray(nint context, uint action, int syscall, uint count, ArgCompare* compares);

    [LibraryImport(Library, EntryPoint = "seccomp_export_bpf")]
    internal static partial int ExportBpf(nint context, int fd);
}
