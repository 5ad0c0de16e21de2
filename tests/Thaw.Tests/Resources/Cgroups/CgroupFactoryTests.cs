using Thaw.Linux.Cgroups;
using Thaw.Resources.Cgroups;
using Thaw.Tests.Support;

namespace Thaw.Tests.Resources.Cgroups;

public sealed class CgroupFactoryTests : CgroupTestClass
{
    private readonly CgroupLayout _layout = CgroupLayout.From(CgroupHierarchy.Detect());
    private readonly CgroupFactory _factory;

    public CgroupFactoryTests()
    {
        _factory = new CgroupFactory(_layout, Instance.Naming, new CgroupPoolOptions());
        _factory.CreateParents();
    }

    [Fact]
    public void Recycle_kills_everything_and_leaves_no_trace_of_the_last_sandbox()
    {
        var cgroup = _factory.Create();
        cgroup.ApplyLimits(new CgroupLimits(32L << 20, 0.5, 8), 100_000);
        var hog = Children.PythonAfterGo("b = bytearray(100 * 1024 * 1024)");
        var sleep = Children.Sleep();
        cgroup.Join(hog.Id);
        cgroup.Join(sleep.Id);
        ChildProcesses.Go(hog);
        // Generous: before the OOM kill the kernel reclaims the hog's file pages, which a slow disk
        // (or the cgroup v2 VM's 9p root) reads back again and again.
        Assert.True(hog.WaitForExit(60_000), "the hog was not OOM-killed");
        if (_layout.Memory.Version == 1)
            Assert.True(PeakUsage(cgroup) >= 30L << 20, "the hog never reached the limit");

        Assert.True(_factory.TryRecycle(cgroup));

        Assert.True(sleep.WaitForExit(5000), "leftover process survived the recycle");
        Assert.Empty(cgroup.Pids());
        CgroupAssert.HasLimits(cgroup, _layout, 256L << 20, 100_000, 100_000, 128);
        if (_layout.Memory.Version == 1)
            Assert.True(PeakUsage(cgroup) < 4L << 20, $"peak usage of the last sandbox still visible: {PeakUsage(cgroup)}");
        _factory.Destroy(cgroup);
        Assert.All(cgroup.Directories, d => Assert.False(Directory.Exists(d), d));
    }

    [Fact]
    public void Recycle_thaws_a_cgroup_released_while_frozen()
    {
        var cgroup = _factory.Create();
        var sleep = Children.Sleep();
        cgroup.Join(sleep.Id);
        cgroup.Freeze();

        Assert.True(_factory.TryRecycle(cgroup));

        Assert.True(sleep.WaitForExit(5000));
        Assert.False(cgroup.IsFrozen);
        _factory.Destroy(cgroup);
    }

    [Fact]
    public void Recycle_thaws_a_frozen_cgroup_whose_processes_are_already_gone()
    {
        // On cgroup2 a paused sandbox dies of SIGKILL without a thaw, leaving an empty cgroup that is
        // still set to freeze; an empty cgroup frozen on either version is the same case.
        var cgroup = _factory.Create();
        cgroup.Freeze();

        Assert.True(_factory.TryRecycle(cgroup));

        string file = Path.Combine(Instance.Naming.StateDir, "count");
        var counter = Children.Counter(file);
        cgroup.Join(counter.Id);
        Wait.Until(() => File.Exists(file) && File.ReadAllText(file).Trim().Length > 0, "the next sandbox of the recycled cgroup runs", 10_000);
        Assert.False(cgroup.IsFrozen);
        Assert.True(_factory.TryRecycle(cgroup));
        Assert.True(counter.WaitForExit(5000));
        _factory.Destroy(cgroup);
    }

    [Fact]
    public void Created_cgroups_get_distinct_ids_and_destroy_of_a_half_gone_one_is_quiet()
    {
        var a = _factory.Create();
        var b = _factory.Create();
        Assert.NotEqual(a.RelativePath, b.RelativePath);

        CgroupFs.RemoveDirectory(a.Directories[0], TimeSpan.FromSeconds(1));
        _factory.Destroy(a);
        _factory.Destroy(b);

        Assert.All(a.Directories.Concat(b.Directories), d => Assert.False(Directory.Exists(d), d));
    }

    // v1 only: memory.max_usage_in_bytes is the peak since the last reset. (memory.failcnt would be
    // the obvious witness, but Linux 6.18 leaves it at 0 even after an OOM kill.)
    private static long PeakUsage(SandboxCgroup cgroup) =>
        CgroupFs.ReadInt64(Path.Combine(cgroup.MemoryDirectory, "memory.max_usage_in_bytes"));

    protected override void TearDown() => _factory.RemoveParents();
}
