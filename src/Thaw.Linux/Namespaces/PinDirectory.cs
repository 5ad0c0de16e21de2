using System.Runtime.InteropServices;

namespace Thaw.Linux.Namespaces;

/// <summary>
/// A directory that holds pinned namespace files, made a private mount of itself (as `ip netns` does
/// with /run/netns, but private): the nsfs bind mounts inside then never propagate to peer mount
/// namespaces, where a copy would keep a namespace alive after Thaw unpinned it.
/// </summary>
public static class PinDirectory
{
    public static void Prepare(string dir)
    {
        Directory.CreateDirectory(dir);
        if (IsMountPoint(dir))
            return;
        LinuxException.ThrowIfFailed(Interop.Mount(dir, dir, null, Interop.MS_BIND, null), "mount", $"bind {dir} onto itself");
        if (Interop.Mount(null, dir, null, Interop.MS_PRIVATE, null) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            Interop.Umount2(dir, Interop.MNT_DETACH);
            throw new LinuxException("mount", errno, $"make {dir} private");
        }
    }

    /// <summary>Unpins whatever is left inside, unmounts the directory and removes it.</summary>
    public static void Remove(string dir)
    {
        if (!Directory.Exists(dir))
            return;
        foreach (var file in Directory.EnumerateFiles(dir))
            NamespacePin.Unpin(file);
        while (IsMountPoint(dir))
            LinuxException.ThrowIfFailed(Interop.Umount2(dir, Interop.MNT_DETACH), "umount2", dir);
        Directory.Delete(dir);
    }

    internal static bool IsMountPoint(string dir) =>
        Mounts.MountTable.Read().IsMountPoint(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
}
