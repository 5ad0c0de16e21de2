using Thaw.Linux.Mounts;

namespace Thaw.Linux.Cgroups;

/// <summary>
/// cgroup2's <c>favordynmods</c> mount option (Linux 6.0+). Moving a process into a cgroup (a write
/// to cgroup.procs, v1 or v2) takes one host-wide lock, <c>cgroup_threadgroup_rwsem</c>, for
/// writing; by default that lock's readers (every fork and exit) run lock-free, so a writer first
/// waits for an RCU grace period whenever no writer came in the last one. On this VM that is
/// 5–15 ms per cgroup join after ~20 ms of idle (0.03 ms back to back): most of a cold start after
/// idle, which is the cold start that matters. With favordynmods the lock stays in the writers'
/// mode (forks and exits take a shared counter instead) and a join costs 0.03 ms always. The lock
/// is global: setting the option on the cgroup2 mount helps a hybrid host's v1 joins as well.
/// A host setting, like a sysctl: Thaw turns it on and leaves it on (on Linux 6.18 it stays in
/// effect once set anyway); <c>CgroupPoolOptions.FavorDynamicModifications = false</c> opts out.
/// </summary>
public static class CgroupDynmods
{
    public const string Option = "favordynmods";

    /// <summary>What <see cref="Enable"/> found or did.</summary>
    public enum Outcome
    {
        AlreadyOn,
        TurnedOn,
        NoCgroup2Mount,
    }

    /// <summary>Turns favordynmods on at the host's cgroup2 mount unless it is on; throws if the remount fails.</summary>
    public static Outcome Enable()
    {
        var mount = MountTable.Read().Entries.FirstOrDefault(m => m.FsType == "cgroup2");
        if (mount is null)
            return Outcome.NoCgroup2Mount;
        if (mount.SuperOptionList.Contains(Option))
            return Outcome.AlreadyOn;
        Mounts.Mounts.Remount(mount.MountPoint, mount.MountOptions, WithOption(mount.SuperOptions));
        return Outcome.TurnedOn;
    }

    /// <summary>
    /// The cgroup2 super options to remount with: the current ones (a remount replaces them all, and
    /// dropping nsdelegate or memory_recursiveprot would change the host's semantics) plus favordynmods.
    /// </summary>
    public static string WithOption(string superOptions) =>
        string.Join(',', superOptions.Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Where(o => o is not ("rw" or "ro") && o != Option).Append(Option));
}
