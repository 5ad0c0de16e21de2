using System.Text;

namespace Thaw.Linux.Cgroups;

/// <summary>
/// Which cgroup a process lives in, and what a cgroup directory says about who may manage it: the
/// facts thawd needs to decide where its own cgroups go on a cgroup2 host.
/// </summary>
public static class CgroupMembership
{
    /// <summary>
    /// The cgroup2 path of process <paramref name="pid"/> (0: this process): the "0::" line of
    /// /proc/PID/cgroup, e.g. "/system.slice/thawd.service". Null when the process has no cgroup2
    /// membership line (a pure v1 host).
    /// </summary>
    public static string? UnifiedPath(int pid = 0)
    {
        string file = pid == 0 ? "/proc/self/cgroup" : $"/proc/{pid}/cgroup";
        foreach (var line in File.ReadLines(file))
            if (line.StartsWith("0::", StringComparison.Ordinal))
                return line[3..];
        return null;
    }

    /// <summary>
    /// Whether <paramref name="dir"/> is its hierarchy's root cgroup. The root has no cgroup.type
    /// (every other cgroup2 directory has one), which also holds inside a cgroup namespace, where
    /// /proc/self/cgroup says "/" of a cgroup that is no root at all.
    /// </summary>
    public static bool IsRoot(string dir) => !File.Exists(Path.Combine(dir, "cgroup.type"));

    /// <summary>
    /// Whether a service manager marked <paramref name="dir"/> as delegated: systemd 251+ sets the
    /// xattr trusted.delegate (and later versions also user.delegate) to "1" on the cgroup of a unit
    /// with Delegate=yes, the documented way for the process inside to learn it owns the subtree.
    /// </summary>
    public static bool IsMarkedDelegated(string dir) =>
        ReadXattr(dir, "trusted.delegate") == "1" || ReadXattr(dir, "user.delegate") == "1";

    /// <summary>An xattr's value as text; null if it is not set or the filesystem has no xattrs.</summary>
    private static unsafe string? ReadXattr(string path, string name)
    {
        Span<byte> buffer = stackalloc byte[64];
        fixed (byte* p = buffer)
        {
            nint n = Interop.GetXattr(path, name, p, (nuint)buffer.Length);
            return n < 0 ? null : Encoding.UTF8.GetString(buffer[..(int)n]);
        }
    }
}
