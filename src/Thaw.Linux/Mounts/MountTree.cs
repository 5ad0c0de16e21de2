using System.Runtime.InteropServices;

namespace Thaw.Linux.Mounts;

/// <summary>
/// The mount tree by id, without <c>/proc/self/mountinfo</c>: statx's unique mount id and
/// listmount(2) (Linux 6.8+) list the mounts below one mount (every mount reachable under its path). Reading and parsing the whole
/// mountinfo costs ~1 ms of CPU here and grows with every mount thawd holds (six per pooled root,
/// one per pooled netns); a root's own check is a few syscalls this way. <see cref="Supported"/> is
/// false on older kernels (Debian 12's 6.1): callers then read the mount table.
/// </summary>
public static class MountTree
{
    public static bool Supported { get; } = Probe();

    /// <summary>The unique id of the mount whose root <paramref name="path"/> is, or null if no mount's root is there.</summary>
    public static unsafe ulong? MountRootId(string path)
    {
        Interop.Statx st;
        LinuxException.ThrowIfFailed(Interop.StatX(Interop.AT_FDCWD, path, Interop.AT_SYMLINK_NOFOLLOW, Interop.STATX_MNT_ID_UNIQUE, &st), "statx", path);
        if ((st.Mask & Interop.STATX_MNT_ID_UNIQUE) == 0)
            throw new NotSupportedException("this kernel's statx has no unique mount id (Linux 6.8+)");
        return (st.Attributes & Interop.STATX_ATTR_MOUNT_ROOT) != 0 ? st.MountId : null;
    }

    /// <summary>The unique ids of every mount below mount <paramref name="mountId"/> (children, their children, ...).</summary>
    public static unsafe List<ulong> Below(ulong mountId)
    {
        var below = new List<ulong>();
        const int batch = 64;
        ulong* ids = stackalloc ulong[batch];
        var request = new Interop.MountIdRequest { Size = (uint)sizeof(Interop.MountIdRequest), MountId = mountId };
        while (true)
        {
            long n = Interop.ListMount(Interop.SYS_listmount, &request, ids, batch, 0);
            if (n < 0)
                throw new LinuxException("listmount", Marshal.GetLastPInvokeError(), mountId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            for (int i = 0; i < n; i++)
                below.Add(ids[i]);
            if (n < batch)
                return below;
            request.Param = ids[batch - 1]; // resume after the last one listed
        }
    }

    /// <summary>True when the mount at <paramref name="path"/> (or its filesystem) is read-only.</summary>
    public static unsafe bool IsReadOnly(string path)
    {
        Interop.StatVfs st;
        LinuxException.ThrowIfFailed(Interop.StatVfsPath(path, &st), "statvfs", path);
        return (st.Flags & Interop.ST_RDONLY) != 0;
    }

    private static unsafe bool Probe()
    {
        try
        {
            if (MountRootId("/") is not { } root)
                return false;
            var request = new Interop.MountIdRequest { Size = (uint)sizeof(Interop.MountIdRequest), MountId = root };
            ulong id;
            return Interop.ListMount(Interop.SYS_listmount, &request, &id, 1, 0) >= 0;
        }
        catch (Exception e) when (e is NotSupportedException or LinuxException)
        {
            return false;
        }
    }
}
