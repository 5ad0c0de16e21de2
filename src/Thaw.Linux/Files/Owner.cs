namespace Thaw.Linux.Files;

/// <summary>File ownership (.NET has no chown).</summary>
public static class Owner
{
    /// <summary>Gives <paramref name="path"/> (not a symlink's target) to <paramref name="uid"/>:<paramref name="gid"/>.</summary>
    public static void Set(string path, int uid, int gid) =>
        LinuxException.ThrowIfFailed(Interop.LChown(path, (uint)uid, (uint)gid), "lchown", path);

    /// <summary>The owner of <paramref name="path"/> (not a symlink's target).</summary>
    public static unsafe (int Uid, int Gid) Get(string path)
    {
        Interop.Statx st;
        LinuxException.ThrowIfFailed(Interop.StatX(Interop.AT_FDCWD, path, Interop.AT_SYMLINK_NOFOLLOW, Interop.STATX_UID | Interop.STATX_GID, &st), "statx", path);
        return ((int)st.Uid, (int)st.Gid);
    }
}
