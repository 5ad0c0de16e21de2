using System.Globalization;
using System.Runtime.InteropServices;

namespace Thaw.Linux.Mounts;

/// <summary>mount(2) and umount2(2) in the few shapes Thaw uses; failures name the call, the path and the errno.</summary>
public static class Mounts
{
    private const int EINVAL = 22;
    private const int ENOENT = 2;

    /// <summary>
    /// A detached copy of the mount tree at <paramref name="path"/> (open_tree with OPEN_TREE_CLONE and
    /// AT_RECURSIVE): belongs to no mount namespace until move_mount(2) attaches it somewhere, and is
    /// dissolved when the last fd to it closes. A sandbox attaches its root this way into a mount
    /// namespace copied from the zygote's small one, instead of copying thawd's whole mount table.
    /// </summary>
    public static SafeFd CloneTree(string path) =>
        new(LinuxException.ThrowIfFailed(
            Interop.OpenTree(Interop.SYS_open_tree, Interop.AT_FDCWD, path, Interop.OPEN_TREE_CLONE | Interop.AT_RECURSIVE | Interop.OPEN_TREE_CLOEXEC),
            "open_tree", path));

    /// <summary>
    /// Bind-mounts <paramref name="source"/> at <paramref name="target"/> (not recursively: submounts of
    /// the source stay out of the sandbox). A read-only bind takes a second call: the kernel ignores
    /// MS_RDONLY on the bind itself and applies it only on a MS_BIND|MS_REMOUNT, which also adds
    /// nosuid and nodev since a sandbox never needs set-uid programs or device nodes from a host dir.
    /// </summary>
    public static void Bind(string source, string target, bool readOnly)
    {
        Mount(source, target, null, Interop.MS_BIND, null, "bind " + source);
        if (readOnly)
        {
            var flags = Interop.MS_BIND | Interop.MS_REMOUNT | Interop.MS_RDONLY | Interop.MS_NOSUID | Interop.MS_NODEV;
            if (Interop.Mount(null, target, null, flags, null) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                Interop.Umount2(target, Interop.MNT_DETACH | Interop.UMOUNT_NOFOLLOW);
                throw new LinuxException("mount", errno, "remount read-only " + target);
            }
        }
    }

    /// <summary>Mounts a fresh tmpfs of at most <paramref name="sizeBytes"/> bytes; nosuid and nodev unless told otherwise.</summary>
    public static void Tmpfs(string target, long sizeBytes, UnixFileMode mode, MountFlags flags = MountFlags.NoSuid | MountFlags.NoDev)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sizeBytes);
        var data = string.Create(CultureInfo.InvariantCulture, $"size={sizeBytes},mode={Convert.ToString((int)mode, 8)}");
        Mount("tmpfs", target, "tmpfs", (ulong)flags, data, "tmpfs " + data);
    }

    /// <summary>
    /// Makes the filesystem (superblock) mounted at <paramref name="target"/> read-only, e.g. a root
    /// tmpfs once its mount points are made. A remount replaces the per-mount flags, so the ones to
    /// keep are passed again in <paramref name="keep"/>.
    /// </summary>
    public static void RemountReadOnly(string target, MountFlags keep = MountFlags.NoSuid) =>
        Mount(null, target, null, Interop.MS_REMOUNT | Interop.MS_RDONLY | (ulong)keep, null, "remount read-only");

    /// <summary>
    /// Stops mount and unmount events propagating to or from peer mount namespaces. Needed because a
    /// host whose / is shared (systemd's default) would otherwise copy every sandbox mount to its peers.
    /// </summary>
    public static void MakePrivate(string target, bool recursive = false) =>
        Mount(null, target, null, Interop.MS_PRIVATE | (recursive ? Interop.MS_REC : 0), null, "make private");

    /// <summary>
    /// Makes <paramref name="dir"/> a mount point of its own (a bind onto itself, unless it already is
    /// one) with private propagation, so the mounts Thaw makes below it stay in this namespace.
    /// </summary>
    public static void MakePrivateMountPoint(string dir)
    {
        if (!MountTable.Read().IsMountPoint(dir))
            Bind(dir, dir, readOnly: false);
        try
        {
            MakePrivate(dir);
        }
        catch
        {
            Unmount(dir);
            throw;
        }
    }

    /// <summary>
    /// Unmounts the topmost mount at <paramref name="target"/>; lazily by default (MNT_DETACH) so a
    /// process still inside cannot make it fail with EBUSY. Symlinks are not followed: a sandbox
    /// could have planted one. Returns false when nothing was mounted there (EINVAL) or the path is gone.
    /// </summary>
    public static bool Unmount(string target, bool detach = true)
    {
        int flags = Interop.UMOUNT_NOFOLLOW | (detach ? Interop.MNT_DETACH : 0);
        if (Interop.Umount2(target, flags) == 0)
            return true;
        int errno = Marshal.GetLastPInvokeError();
        if (errno is EINVAL or ENOENT)
            return false;
        throw new LinuxException("umount2", errno, target);
    }

    /// <summary>
    /// Unmounts every mount at or below <paramref name="dir"/>, deepest first, and checks mountinfo
    /// that none is left (a mount hidden under an over-mount shows only once the top one is gone,
    /// hence the rounds). Returns how many were unmounted; throws if any remain.
    /// </summary>
    public static int UnmountTree(string dir)
    {
        int count = 0;
        for (int round = 0; round < 8; round++)
        {
            var mounts = MountTable.Read().MountPointsUnder(dir);
            if (mounts.Count == 0)
                return count;
            foreach (var mountPoint in mounts)
                count += Unmount(mountPoint) ? 1 : 0;
        }
        var left = MountTable.Read().MountPointsUnder(dir);
        return left.Count == 0
            ? count
            : throw new IOException($"mounts remain under '{dir}' after unmounting: {string.Join(", ", left)}");
    }

    /// <summary>
    /// Remounts the filesystem at <paramref name="target"/> with <paramref name="superOptions"/>
    /// (the whole set: the filesystem's own options are replaced), keeping the mount's own flags
    /// (<paramref name="mountOptions"/>, as mountinfo lists them: a legacy remount resets them too).
    /// </summary>
    public static void Remount(string target, string mountOptions, string superOptions) =>
        Mount(null, target, null, Interop.MS_REMOUNT | MountFlagsOf(mountOptions), superOptions, "remount " + superOptions);

    /// <summary>The MS_* flags of a mountinfo per-mount option list ("rw,nosuid,nodev,noexec,relatime").</summary>
    internal static ulong MountFlagsOf(string mountOptions)
    {
        ulong flags = 0;
        foreach (var option in mountOptions.Split(','))
            flags |= option switch
            {
                "ro" => Interop.MS_RDONLY,
                "nosuid" => Interop.MS_NOSUID,
                "nodev" => Interop.MS_NODEV,
                "noexec" => Interop.MS_NOEXEC,
                "noatime" => Interop.MS_NOATIME,
                "nodiratime" => Interop.MS_NODIRATIME,
                "relatime" => Interop.MS_RELATIME,
                "strictatime" => Interop.MS_STRICTATIME,
                _ => 0,
            };
        return flags;
    }

    private static void Mount(string? source, string target, string? fsType, ulong flags, string? data, string what)
    {
        if (Interop.Mount(source, target, fsType, flags, data) < 0)
            throw new LinuxException("mount", Marshal.GetLastPInvokeError(), what + " at " + target);
    }
}
