using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Thaw.Linux.Cgroups;

/// <summary>How <see cref="CgroupFreezer"/> learns that a cgroup2 freeze took effect.</summary>
public enum FreezeWait
{
    /// <summary>Re-reads cgroup.events every millisecond (what v1's freezer.state needs anyway).</summary>
    Poll,

    /// <summary>Sleeps in poll(2) on cgroup.events, which the kernel wakes when "frozen" changes.</summary>
    Events,
}

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
    /// <paramref name="wait"/> matters on v2 only (v1 has no event to wait on).
    /// </summary>
    public static void SetFrozen(string dir, int version, bool frozen, TimeSpan timeout, FreezeWait wait = FreezeWait.Events)
    {
        string file = Path.Combine(dir, version == 1 ? "freezer.state" : "cgroup.freeze");
        string value = version == 1 ? (frozen ? "FROZEN" : "THAWED") : (frozen ? "1" : "0");
        CgroupFs.Write(file, value);
        bool reached = version == 2 && wait == FreezeWait.Events
            ? WaitForEvent(dir, frozen, timeout)
            : Poll(dir, version, frozen, timeout, file);
        if (reached)
            return;
        // A cgroup left FREEZING stops some of its tasks and not others: undo it (as runc does).
        if (frozen)
            TryWrite(file, version == 1 ? "THAWED" : "0");
        throw new TimeoutException($"{dir}: not {(frozen ? "frozen" : "thawed")} {timeout.TotalMilliseconds:0} ms after writing {value} to {Path.GetFileName(file)}");
    }

    private static bool Poll(string dir, int version, bool frozen, TimeSpan timeout, string file)
    {
        var sw = Stopwatch.StartNew();
        var lastNudge = TimeSpan.Zero;
        while (IsFrozen(dir, version) != frozen)
        {
            if (sw.Elapsed > timeout)
                return false;
            // v1 can stick at FREEZING when a task forks while the freeze sweeps the cgroup (a shell
            // starting a child every few ms is enough). The kernel's own advice is to retry or thaw:
            // every 100 ms thaw and freeze again, which sweeps the tasks afresh.
            if (version == 1 && frozen && sw.Elapsed - lastNudge > TimeSpan.FromMilliseconds(100))
            {
                lastNudge = sw.Elapsed;
                CgroupFs.Write(file, "THAWED");
                CgroupFs.Write(file, "FROZEN");
            }
            Thread.Sleep(1);
        }
        return true;
    }

    /// <summary>
    /// Waits in poll(2) for cgroup.events to say "frozen 0|1": kernfs marks the file changed (POLLPRI)
    /// when the value flips, and each read re-arms it, so a change between the read and the poll is not lost.
    /// </summary>
    private static unsafe bool WaitForEvent(string dir, bool frozen, TimeSpan timeout)
    {
        string events = Path.Combine(dir, "cgroup.events");
        using var fd = new SafeFd(LinuxException.ThrowIfFailed(Interop.Open(events, Interop.O_RDONLY | Interop.O_CLOEXEC, 0), "open", events));
        var sw = Stopwatch.StartNew();
        byte* buffer = stackalloc byte[256];
        while (true)
        {
            if (Interop.Lseek(fd.Value, 0, Interop.SEEK_SET) < 0)
                throw new LinuxException("lseek", Marshal.GetLastPInvokeError(), events);
            nint n = Interop.Read(fd.Value, buffer, 256);
            if (n < 0)
                throw new LinuxException("read", Marshal.GetLastPInvokeError(), events);
            if (FrozenIn(new ReadOnlySpan<byte>(buffer, (int)n)) == frozen)
                return true;
            var left = timeout - sw.Elapsed;
            if (left <= TimeSpan.Zero)
                return false;
            var pfd = new Interop.PollFd { Fd = fd.Value, Events = Interop.POLLPRI };
            // EINTR (the runtime signals its threads for GC) only re-reads.
            if (Interop.Poll(&pfd, 1, (int)Math.Ceiling(left.TotalMilliseconds)) < 0 && Marshal.GetLastPInvokeError() != Interop.EINTR)
                throw new LinuxException("poll", Marshal.GetLastPInvokeError(), events);
        }
    }

    private static bool FrozenIn(ReadOnlySpan<byte> events)
    {
        foreach (var line in Encoding.ASCII.GetString(events).Split('\n'))
            if (line.StartsWith("frozen ", StringComparison.Ordinal))
                return line == "frozen 1";
        return false;
    }

    private static void TryWrite(string file, string value)
    {
        try { CgroupFs.Write(file, value); }
        catch (LinuxException) { } // the cgroup went away: nothing left to thaw
    }

    /// <summary>
    /// Whether a freeze was asked for and not undone: v1 FROZEN or FREEZING, v2 cgroup.freeze 1. Not
    /// the same as <see cref="IsFrozen"/> on v2: a frozen task that gets SIGKILL leaves the frozen
    /// state while it dies ("frozen 0"), yet cgroup.freeze stays 1 and freezes whatever joins next.
    /// </summary>
    public static bool IsFreezeRequested(string dir, int version) => version == 1
        ? CgroupFs.Read(Path.Combine(dir, "freezer.state")) != "THAWED"
        : CgroupFs.Read(Path.Combine(dir, "cgroup.freeze")) == "1";

    /// <summary>
    /// Whether the cgroup is fully frozen. v1's FREEZING (some tasks not yet stopped) is not frozen;
    /// a v1 thaw is synchronous, so it never leaves the state at FREEZING.
    /// </summary>
    public static bool IsFrozen(string dir, int version) => version == 1
        ? CgroupFs.Read(Path.Combine(dir, "freezer.state")) == "FROZEN"
        : CgroupFs.ReadKey(Path.Combine(dir, "cgroup.events"), "frozen") == "1";
}
