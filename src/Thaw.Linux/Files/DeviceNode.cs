namespace Thaw.Linux.Files;

/// <summary>
/// Character device nodes. A sandbox's /dev is four nodes made with mknod in its root tmpfs:
/// cheaper than four bind mounts, and nothing for the recycle check to unmount.
/// </summary>
public static class DeviceNode
{
    /// <summary>The major and minor number of the character device at <paramref name="path"/> (not followed if a symlink).</summary>
    public static (uint Major, uint Minor) CharDeviceNumber(string path)
    {
        var st = Stat(path);
        if ((st.Mode & Interop.S_IFMT) != Interop.S_IFCHR)
            throw new IOException($"'{path}' is not a character device");
        return (st.RdevMajor, st.RdevMinor);
    }

    public static bool IsCharDevice(string path) => (Stat(path).Mode & Interop.S_IFMT) == Interop.S_IFCHR;

    /// <summary>Creates a character device node with exactly <paramref name="mode"/> (the umask is undone by a chmod).</summary>
    public static void CreateChar(string path, uint major, uint minor, UnixFileMode mode)
    {
        LinuxException.ThrowIfFailed(Interop.Mknod(path, Interop.S_IFCHR | (uint)mode, MakeDev(major, minor)), "mknod", path);
        File.SetUnixFileMode(path, mode);
    }

    /// <summary>glibc's makedev: 12 bits of major and 20 of minor, split across the 64-bit dev_t.</summary>
    internal static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8)
        | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);

    private static unsafe Interop.Statx Stat(string path)
    {
        Interop.Statx st;
        LinuxException.ThrowIfFailed(
            Interop.StatX(Interop.AT_FDCWD, path, Interop.AT_SYMLINK_NOFOLLOW, Interop.STATX_TYPE | Interop.STATX_MODE, &st),
            "statx", path);
        return st;
    }
}
