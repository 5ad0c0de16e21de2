using System.Runtime.InteropServices;

namespace Thaw.Linux;

internal static partial class Interop
{
    [LibraryImport(Libraries.Libc, EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int LChown(string path, uint owner, uint group);
}
