using System.Runtime.InteropServices;

namespace Thaw.Linux;

internal static partial class Interop
{
    internal const int CLONE_FS = 0x00000200;
    internal const int CLONE_NEWNS = 0x00020000;
    internal const int CLONE_NEWUTS = 0x04000000;
    internal const int CLONE_NEWIPC = 0x08000000;
    internal const int CLONE_NEWUSER = 0x10000000;
    internal const int CLONE_NEWPID = 0x20000000;
    internal const int CLONE_NEWNET = 0x40000000;

    [LibraryImport(Libraries.Libc, EntryPoint = "unshare", SetLastError = true)]
    internal static partial int Unshare(int flags);

    [LibraryImport(Libraries.Libc, EntryPoint = "setns", SetLastError = true)]
    internal static partial int SetNs(int fd, int nstype);
}
