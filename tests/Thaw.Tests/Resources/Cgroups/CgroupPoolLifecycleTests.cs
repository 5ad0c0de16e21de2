using Thaw.Linux.Cgroups;
using Thaw.Linux.Mounts;
using Thaw.Resources.Cgroups;
using Thaw.Tests.Support;

namespace Thaw.Tests.Resources.Cgroups;

public sealed class CgroupPoolLifecycleTests : CgroupTestClass
{

    [Fact]
    public void Dispose_removes_every_cgroup_even_one_still_claimed_with_a_process_inside()
    {
        var pool = new CgroupPool(Instance.Naming, new CgroupPoolOptions { Size = 3 }, TestInstance.Logger);
        Assert.True(pool.Pool.WaitUntilFull(TimeSpan.FromSeconds(10)));
        var claimed = pool.Claim();
        var sleep = Children.Sleep();
        claimed.Join(sleep.Id);
        Assert.NotEmpty(CgroupAssert.Leftovers(Instance.Naming));

        pool.Dispose();

        Assert.True(sleep.WaitForExit(5000), "the claimed cgroup's process survived dispose");
        Assert.Empty(CgroupAssert.Leftovers(Instance.Naming));
    }

    [Fact]
    public void Bad_options_are_refused_with_one_message_naming_each()
    {
        var options = new CgroupPoolOptions { Size = -2, MemoryLimitBytes = -1, CpuQuota = 0, PidsMax = 0 };

        var e = Assert.Throws<ArgumentException>(() => new CgroupPool(Instance.Naming, options, TestInstance.Logger));

        Assert.Equal("invalid cgroup pool options: Size must be 0 or more (was -2); MemoryLimitBytes must be positive (was -1); "
            + "CpuQuota must be positive (was 0); PidsMax must be positive (was 0)", e.Message);
        Assert.Empty(CgroupAssert.Leftovers(Instance.Naming));
    }

    [Fact]
    public void A_cpu_quota_below_the_kernel_floor_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new CgroupPoolOptions { CpuQuota = 0.001 }.Validate());

        Assert.Contains("CpuQuota must be at least 0.01 CPUs", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_host_without_pids_fails_fast_naming_it()
    {
        // This host without pids, in whichever version holds it: no v1 pids mount, no pids in cgroup2's list.
        var mounts = MountTable.Read().Entries.Where(m => !m.SuperOptionList.Contains("pids"));
        var hierarchy = CgroupHierarchy.FromMounts(mounts, mount =>
            string.Join(' ', CgroupFs.Read(Path.Combine(mount, "cgroup.controllers")).Split(' ').Where(c => c != "pids")));

        var e = Assert.Throws<InvalidOperationException>(() => new CgroupPool(Instance.Naming, new CgroupPoolOptions(), TestInstance.Logger, hierarchy));

        Assert.StartsWith("cgroup controller(s) missing: pids. Found: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("memory (v", e.Message, StringComparison.Ordinal);
        Assert.Empty(CgroupAssert.Leftovers(Instance.Naming));
    }
}
