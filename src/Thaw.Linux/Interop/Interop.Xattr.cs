using System.Runtime.InteropServices;

namespace Thaw.Linux;

internal static partial class Interop
{
    internal const int ENODATA = 61;

    [LibraryImport(Libraries.Libc, EntryPoint = "getxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static unsafe partial nint GetXattr(string path, string name, byte* value, nuint size);
}
