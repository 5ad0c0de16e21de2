using System.Runtime.InteropServices;

namespace Thaw.Linux;

/// <summary>A file descriptor owned by Thaw. −1 is the only invalid value (0 is a real fd).</summary>
public sealed class SafeFd : SafeHandle
{
    public SafeFd() : base(-1, ownsHandle: true) { }

    public SafeFd(int fd, bool ownsHandle = true) : base(-1, ownsHandle) => SetHandle(fd);

    public override bool IsInvalid => handle == -1;

    /// <summary>The raw number, for building messages and syscalls; the handle keeps ownership.</summary>
    public int Value => (int)handle;

    protected override bool ReleaseHandle() => Interop.Close((int)handle) == 0;
}
