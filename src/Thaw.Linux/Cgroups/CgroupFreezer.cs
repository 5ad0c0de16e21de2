using System.Diagnostics;

namespace Thaw.Linux.Cgroups;

/// <summary>
/// Freezes and thaws the processes of one cgroup. Both versions freeze asynchronously: the write
/// only requests the state, so this waits until the kernel reports it reached (v1 freezer.state
/// passes through FREEZING; v2 reports "frozen 1" in cgroup.events).
/// </summary>
public static class CgroupFreezer
{
    /// <summary>
    /// Freezes (<paramref name="frozen"/> true) or thaws the cgroup at <paramref name="dir"/>: a v1
    /// freezer hierarchy directory when <paramref name="version"/> is 1, a cgroup2 directory when 2.
    /// Throws <see cref="TimeoutException"/> if the state is not reached within <paramref name="timeout"/>.
    /// </summary>
    public static void SetFrozen(string dir, int version, bool frozen, TimeSpan timeout)
    {
        string file = Path.Combine(dir, version == 1 ? "freezer.state" : "cgroup.freeze");
        string value = version == 1 ? (frozen ? "FROZEN" : "THAWED") : (frozen ? "1" : "0");
        CgroupFs.Write(file, value);
        var sw = Stopwatch.StartNew();
        while (IsFrozen(dir, version) != frozen)
        {
            if (sw.Elapsed > timeout)
                throw new TimeoutException($"{dir}: not {(frozen ? "frozen" : "thawed")} {timeout.TotalMilliseconds:0} ms after writing {value} to {Path.GetFileName(file)}");
            Thread.Sleep(1);
        }
    }

    /// <summary>
    /// Whether the cgroup is fully frozen. v1's FREEZING (some tasks not yet stopped) is not frozen;
    /// a v1 thaw is synchronous, so it never leaves the state at FREEZING.
    /// </summary>
    public static bool IsFrozen(string dir, int version) => version == 1
        ? CgroupFs.Read(Path.Combine(dir, "freezer.state")) == "FROZEN"
        : CgroupFs.ReadKey(Path.Combine(dir, "cgroup.events"), "frozen") == "1";
}
