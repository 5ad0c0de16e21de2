using System.Globalization;
using Thaw.Linux;
using Thaw.Linux.Cgroups;

namespace Thaw.Resources.Cgroups;

public sealed partial class SandboxCgroup
{
    /// <summary>
    /// Writes memory, CPU and task limits in each controller's own dialect (v1 or v2). Swap is
    /// capped at the memory limit so a sandbox cannot overflow into swap: v1 limits memory+swap
    /// (memsw) to the same value, v2 sets memory.swap.max to 0.
    /// </summary>
    internal void ApplyLimits(CgroupLimits limits, int cpuPeriodMicroseconds)
    {
        string bytes = Invariant(limits.MemoryLimitBytes);
        if (_layout.Memory.Version == 1)
        {
            // memsw must stay ≥ limit_in_bytes at every step: lift it, set the limit, then lower it.
            string memsw = Path.Combine(MemoryDirectory, "memory.memsw.limit_in_bytes");
            bool hasMemsw = File.Exists(memsw);
            if (hasMemsw)
                CgroupFs.Write(memsw, "-1");
            CgroupFs.Write(Path.Combine(MemoryDirectory, "memory.limit_in_bytes"), bytes);
            if (hasMemsw)
                CgroupFs.Write(memsw, bytes);
        }
        else
        {
            CgroupFs.Write(Path.Combine(MemoryDirectory, "memory.max"), bytes);
            string swap = Path.Combine(MemoryDirectory, "memory.swap.max");
            if (File.Exists(swap))
                CgroupFs.Write(swap, "0");
        }

        string period = Invariant(cpuPeriodMicroseconds);
        string quota = Invariant(limits.CpuQuotaMicroseconds(cpuPeriodMicroseconds));
        if (_layout.Cpu.Version == 1)
        {
            CgroupFs.Write(Path.Combine(CpuDirectory, "cpu.cfs_period_us"), period);
            CgroupFs.Write(Path.Combine(CpuDirectory, "cpu.cfs_quota_us"), quota);
        }
        else
        {
            CgroupFs.Write(Path.Combine(CpuDirectory, "cpu.max"), quota + " " + period);
        }

        // pids.max has the same name and format in both versions.
        CgroupFs.Write(Path.Combine(PidsDirectory, "pids.max"), Invariant(limits.PidsMax));
        Limits = limits;
    }

    /// <summary>
    /// Zeroes the v1 memory counters a previous sandbox left (failcnt, peak usage) and reclaims its
    /// page cache, so the next one starts clean. Best effort: v2 has no writable equivalents.
    /// </summary>
    internal void ResetCounters()
    {
        if (_layout.Memory.Version != 1)
            return;
        foreach (var file in (string[])["memory.failcnt", "memory.memsw.failcnt", "memory.max_usage_in_bytes", "memory.memsw.max_usage_in_bytes", "memory.force_empty"])
        {
            try { CgroupFs.Write(Path.Combine(MemoryDirectory, file), "0"); }
            catch (LinuxException) { }
        }
    }

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}
