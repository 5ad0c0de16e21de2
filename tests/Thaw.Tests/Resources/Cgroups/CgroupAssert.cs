using Thaw.Linux.Cgroups;
using Thaw.Resources;
using Thaw.Resources.Cgroups;

namespace Thaw.Tests.Resources.Cgroups;

/// <summary>Reads limits back from the kernel's files, in whichever cgroup version holds each controller.</summary>
internal static class CgroupAssert
{
    public static void HasLimits(SandboxCgroup cgroup, CgroupLayout layout, long memoryBytes, long cpuQuotaUs, long periodUs, int pidsMax)
    {
        if (layout.Memory.Version == 1)
            Assert.Equal(memoryBytes, CgroupFs.ReadInt64(Path.Combine(cgroup.MemoryDirectory, "memory.limit_in_bytes")));
        else
            Assert.Equal(memoryBytes, CgroupFs.ReadInt64(Path.Combine(cgroup.MemoryDirectory, "memory.max")));
        if (layout.Cpu.Version == 1)
        {
            Assert.Equal(periodUs, CgroupFs.ReadInt64(Path.Combine(cgroup.CpuDirectory, "cpu.cfs_period_us")));
            Assert.Equal(cpuQuotaUs, CgroupFs.ReadInt64(Path.Combine(cgroup.CpuDirectory, "cpu.cfs_quota_us")));
        }
        else
        {
            Assert.Equal($"{cpuQuotaUs} {periodUs}", CgroupFs.Read(Path.Combine(cgroup.CpuDirectory, "cpu.max")));
        }
        Assert.Equal(pidsMax, CgroupFs.ReadInt64(Path.Combine(cgroup.PidsDirectory, "pids.max")));
    }

    /// <summary>Every directory an instance named <paramref name="naming"/> has in any cgroup mount.</summary>
    public static IReadOnlyList<string> Leftovers(ThawNaming naming) =>
        [.. CgroupHierarchy.Detect().MountPaths.Select(m => Path.Combine(m, naming.CgroupName)).Where(Directory.Exists)];
}
