namespace Thaw.Linux.Mounts;

/// <summary>Per-mount flags Thaw sets; the values are the kernel's MS_* bits.</summary>
[Flags]
public enum MountFlags : ulong
{
    None = 0,
    ReadOnly = Interop.MS_RDONLY,
    NoSuid = Interop.MS_NOSUID,
    NoDev = Interop.MS_NODEV,
    NoExec = Interop.MS_NOEXEC,
}
