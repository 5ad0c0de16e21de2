using System.Runtime.InteropServices;

namespace Thaw.Linux;

internal static partial class Interop
{
    [LibraryImport(Libraries.Libc, EntryPoint = "pipe2", SetLastError = true)]
    internal static unsafe partial int Pipe2(int* fds, int flags);
}
