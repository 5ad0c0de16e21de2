using System.Runtime.InteropServices;

namespace Thaw.Linux;

internal static partial class Interop
{
    internal const ulong MS_RDONLY = 1;
    internal const ulong MS_NOSUID = 2;
    internal const ulong MS_NODEV = 4;
    internal const ulong MS_NOEXEC = 8;
    internal const ulong MS_REMOUNT = 32;
    internal const ulong MS_NOATIME = 1024;
    internal const ulong MS_NODIRATIME = 2048;
    internal const ulong MS_RELATIME = 1 << 21;
    internal const ulong MS_STRICTATIME = 1 << 24;
    internal const ulong MS_BIND = 4096;
    internal const ulong MS_REC = 16384;
    internal const ulong MS_PRIVATE = 1 << 18;
    internal const ulong MS_SLAVE = 1 << 19;

    internal const int MNT_FORCE = 1;
    internal const int MNT_DETACH = 2;
    internal const int UMOUNT_NOFOLLOW = 8;

    [LibraryImport(Libraries.Libc, EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Mount(string? source, string target, string? fsType, ulong flags, string? data);

    [LibraryImport(Libraries.Libc, EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Umount2(string target, int flags);

    // open_tree(2), Linux 5.2+: glibc 2.36 has no wrapper, so through syscall(2).
    internal const long SYS_open_tree = 428;
    internal const uint OPEN_TREE_CLONE = 1;
    internal const uint OPEN_TREE_CLOEXEC = 0x80000;
    internal const uint AT_RECURSIVE = 0x8000;

    [LibraryImport(Libraries.Libc, EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int OpenTree(long number, int dirFd, string path, uint flags);

    // listmount(2), Linux 6.8+ (the same number on every architecture since 424): the ids of the
    // mounts directly below one, by statx's unique mount id.
    internal const long SYS_listmount = 458;
    internal const uint STATX_MNT_ID_UNIQUE = 0x4000;
    internal const ulong STATX_ATTR_MOUNT_ROOT = 0x2000;
    internal const ulong ST_RDONLY = 1;

    /// <summary>struct mnt_id_req, its first version (24 bytes): which mount, and where a listing resumes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct MountIdRequest
    {
        public uint Size;
        public uint Spare;
        public ulong MountId;
        public ulong Param;
    }

    [LibraryImport(Libraries.Libc, EntryPoint = "syscall", SetLastError = true)]
    internal static unsafe partial long ListMount(long number, MountIdRequest* request, ulong* ids, nuint count, uint flags);

    /// <summary>struct statvfs (glibc, 64-bit): only the flags, whose ST_RDONLY includes the mount's own read-only flag.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 112)]
    internal struct StatVfs
    {
        [FieldOffset(72)] public ulong Flags;
    }

    [LibraryImport(Libraries.Libc, EntryPoint = "statvfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static unsafe partial int StatVfsPath(string path, StatVfs* result);
}
