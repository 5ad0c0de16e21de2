using System.Globalization;
using Thaw.Linux;
using Thaw.Linux.Cgroups;

namespace Thaw.Resources.Cgroups;

public sealed partial class SandboxCgroup
{
    // Probed once per cgroup (at its first limits, when it is created), not on every claim.
    private bool? _hasSwapFile;

    /// <summary>
    /// Writes memory, CPU and task limits in each controller's own dialect (v1 or v2), and only those
    /// that differ from what the cgroup holds: a claim is on the request path and each cgroupfs write
    /// costs a syscall and a kernel lock. Swap is capped at the memory limit so a sandbox cannot
    /// overflow into swap: v1 limits memory+swap (memsw) to the same value, v2 sets memory.swap.max to 0.
    /// </summary>
    internal void ApplyLimits(CgroupLimits limits, int cpuPeriodMicroseconds)
    {
        var old = Limits;
        // Unknown from here until every write succeeded: a failed claim's recycle then rewrites all.
        Limits = null;
        if (old?.MemoryLimitBytes != limits.MemoryLimitBytes)
            WriteMemory(limits.MemoryLimitBytes, old?.MemoryLimitBytes);

        if (old?.CpuQuota != limits.CpuQuota)
        {
            string quota = Invariant(limits.CpuQuotaMicroseconds(cpuPeriodMicroseconds));
            string period = Invariant(cpuPeriodMicroseconds);
            if (_layout.Cpu.Version == 2)
                CgroupFs.Write(Path.Combine(CpuDirectory, "cpu.max"), quota + " " + period);
            else
            {
                // The period is a pool-wide option: written once, with the cgroup's first limits.
                if (old is null)
                    CgroupFs.Write(Path.Combine(CpuDirectory, "cpu.cfs_period_us"), period);
                CgroupFs.Write(Path.Combine(CpuDirectory, "cpu.cfs_quota_us"), quota);
            }
        }

        // pids.max has the same name and format in both versions.
        if (old?.PidsMax != limits.PidsMax)
            CgroupFs.Write(Path.Combine(PidsDirectory, "pids.max"), Invariant(limits.PidsMax));
        Limits = limits;
    }

    private void WriteMemory(long limitBytes, long? oldBytes)
    {
        string bytes = Invariant(limitBytes);
        if (_layout.Memory.Version == 1)
        {
            string limit = Path.Combine(MemoryDirectory, "memory.limit_in_bytes");
            string memsw = Path.Combine(MemoryDirectory, "memory.memsw.limit_in_bytes");
            _hasSwapFile ??= File.Exists(memsw);
            if (_hasSwapFile != true)
            {
                CgroupFs.Write(limit, bytes);
                return;
            }
            // The kernel keeps memsw ≥ limit_in_bytes at every step: raise memsw first, lower it last.
            // With the current values unknown (a new cgroup, a failed write), lift memsw out of the way.
            if (oldBytes is null)
                CgroupFs.Write(memsw, "-1");
            bool raising = oldBytes is { } o && limitBytes > o;
            CgroupFs.Write(raising ? memsw : limit, bytes);
            CgroupFs.Write(raising ? limit : memsw, bytes);
        }
        else
        {
            CgroupFs.Write(Path.Combine(MemoryDirectory, "memory.max"), bytes);
            string swap = Path.Combine(MemoryDirectory, "memory.swap.max");
            _hasSwapFile ??= File.Exists(swap);
            if (_hasSwapFile == true && oldBytes is null)
                CgroupFs.Write(swap, "0");
        }
    }

    /// <summary>
    /// Sets memory.oom.group (cgroup v2): when the OOM killer picks a process of this cgroup it kills
    /// every process in it at once, so a sandbox that ran out of memory is gone as a whole, never left
    /// half-alive (its pid 1 without its handler, a pool of workers one short). v1 has no such switch.
    /// Written once, when the cgroup is made: recycling keeps it.
    /// </summary>
    internal void KillWholeOnOom()
    {
        if (_layout.Memory.Version == 2)
            CgroupFs.Write(Path.Combine(MemoryDirectory, "memory.oom.group"), "1");
    }

    /// <summary>
    /// Zeroes the v1 memory counters a previous sandbox left (failcnt, peak usage). Best effort: v2
    /// has no writable equivalents. Not memory.force_empty: it cost ~7 ms of CPU per recycle here and
    /// evicted the shared page cache (libc, the program) the next sandbox faults right back in; cache
    /// still charged to a pooled cgroup is reclaimed first when the next sandbox nears its limit.
    /// </summary>
    internal void ResetCounters()
    {
        if (_layout.Memory.Version != 1)
            return;
        foreach (var file in (string[])["memory.failcnt", "memory.memsw.failcnt", "memory.max_usage_in_bytes", "memory.memsw.max_usage_in_bytes"])
        {
            try { CgroupFs.Write(Path.Combine(MemoryDirectory, file), "0"); }
            catch (LinuxException) { }
        }
    }

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}
