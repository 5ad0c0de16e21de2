using System.Runtime.CompilerServices;

[assembly: DisableRuntimeMarshalling]

namespace Thaw.Linux;

/// <summary>
/// Raw syscall declarations, one file per syscall family, as dotnet/runtime's
/// <c>Common/src/Interop/Unix</c> does. Nothing outside <c>Thaw.Linux</c> calls libc.
/// </summary>
internal static partial class Interop
{
    internal static class Libraries
    {
        internal const string Libc = "libc";
    }
}
