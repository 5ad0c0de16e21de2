using Thaw.Linux.Cgroups;
using Thaw.Resources.Cgroups;
using Thaw.Tests.Support;

namespace Thaw.Tests.Resources.Cgroups;

public sealed class CgroupPoolTests : CgroupTestClass
{
    private readonly CgroupPool _pool;

    public CgroupPoolTests()
    {
        _pool = new CgroupPool(Instance.Naming, new CgroupPoolOptions { Size = 2 }, TestInstance.Logger);
        Assert.True(_pool.Pool.WaitUntilFull(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Claimed_cgroup_lives_at_the_same_path_in_every_hierarchy()
    {
        var cgroup = _pool.Claim();

        Assert.Matches($"^{Instance.Naming.CgroupName}/sb-[0-9]+$", cgroup.RelativePath);
        Assert.Equal(_pool.Layout.Hierarchies.Count, cgroup.ProcsFiles.Count);
        foreach (var (hierarchy, procs) in _pool.Layout.Hierarchies.Zip(cgroup.ProcsFiles))
            Assert.Equal(Path.Combine(hierarchy.MountPath, cgroup.RelativePath, "cgroup.procs"), procs);
        Assert.All(cgroup.ProcsFiles, f => Assert.True(File.Exists(f), f));
        _pool.Release(cgroup);
    }

    [FactOnPureCgroup2]
    public void An_oom_kill_takes_every_process_of_the_cgroup()
    {
        // A sandbox's shape: a small process beside one that grows past the limit. With
        // memory.oom.group the OOM killer takes both; without it the small one lives on.
        var cgroup = _pool.Claim(new CgroupLimits(48L << 20, 1.0, 64));
        string dir = Assert.Single(cgroup.Directories);
        var shell = Children.Start("/bin/sh", "-c", "echo $$ > \"$0/cgroup.procs\" && { sleep 300 & exec python3 -c 'b = b\"x\" * (200 << 20)'; }", dir);

        Assert.True(shell.WaitForExit(120_000), "the growing process was not OOM-killed");
        Assert.True(cgroup.OomKilledSinceClaim());
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (CgroupFs.ReadProcs(dir).Count > 0 && DateTime.UtcNow < deadline)
            Thread.Sleep(10);
        Assert.Empty(CgroupFs.ReadProcs(dir));
        _pool.Release(cgroup);
    }

    [Fact]
    public void Claim_without_limits_holds_the_defaults()
    {
        var cgroup = _pool.Claim();

        CgroupAssert.HasLimits(cgroup, _pool.Layout, 256L << 20, 100_000, 100_000, 128);
        _pool.Release(cgroup);
    }

    [Fact]
    public void Claim_writes_the_limits_into_the_control_files()
    {
        var cgroup = _pool.Claim(new CgroupLimits(64L << 20, 0.5, 17));

        CgroupAssert.HasLimits(cgroup, _pool.Layout, 64L << 20, 50_000, 100_000, 17);
        _pool.Release(cgroup);
    }

    [Fact]
    public void A_limit_the_kernel_refuses_fails_the_claim_and_returns_the_cgroup()
    {
        // pids.max above PID_MAX_LIMIT (4 Mi) passes our validation but not the kernel's.
        var e = Assert.Throws<InvalidOperationException>(() => _pool.Claim(new CgroupLimits(64L << 20, 1, int.MaxValue)));

        Assert.Contains($"pids.max, {int.MaxValue}) failed: EINVAL", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, _pool.Stats().InUse);
    }

    [Fact]
    public void Invalid_limits_are_refused_before_anything_is_claimed()
    {
        var e = Assert.Throws<ArgumentException>(() => _pool.Claim(new CgroupLimits(0, 1, -3)));

        Assert.Equal("invalid cgroup limits: MemoryLimitBytes must be positive (was 0); PidsMax must be positive (was -3)", e.Message);
        Assert.Equal(0, _pool.Stats().Claims);
    }

    [Fact]
    public void Memory_hog_is_killed_by_the_oom_killer()
    {
        var cgroup = _pool.Claim(new CgroupLimits(32L << 20, 1, 16));
        // The counter is the cgroup's for its life: a pooled cgroup brings the kills of its earlier sandboxes.
        string events = Path.Combine(cgroup.MemoryDirectory, _pool.Layout.Memory.Version == 1 ? "memory.oom_control" : "memory.events");
        long killsBefore = long.Parse(CgroupFs.ReadKey(events, "oom_kill")!, System.Globalization.CultureInfo.InvariantCulture);
        var hog = Children.PythonAfterGo("b = bytearray(200 * 1024 * 1024)\nb[::4096] = b'x' * len(b[::4096])\nprint('survived')");
        cgroup.Join(hog.Id);
        Assert.Equal([hog.Id], cgroup.Pids());

        ChildProcesses.Go(hog);

        Assert.True(hog.WaitForExit(10_000));
        Assert.Equal(137, hog.ExitCode); // 128 + SIGKILL
        Assert.DoesNotContain("survived", hog.StandardOutput.ReadToEnd(), StringComparison.Ordinal);
        // At least one more: with memory.oom.group (v2) the kernel counts the victim and then each member it kills.
        long killsAfter = long.Parse(CgroupFs.ReadKey(events, "oom_kill")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(killsAfter > killsBefore, $"oom_kill {killsBefore} before, {killsAfter} after");
        _pool.Release(cgroup);
    }

    [Fact]
    public void Pids_max_stops_forks()
    {
        var cgroup = _pool.Claim(new CgroupLimits(64L << 20, 1, 5));
        var forker = Children.PythonAfterGo("""
            import os, signal
            children = []
            try:
                for _ in range(20):
                    pid = os.fork()
                    if pid == 0:
                        signal.pause()
                    children.append(pid)
            except BlockingIOError:
                pass
            print(len(children), flush=True)
            for pid in children:
                os.kill(pid, 9)
            """);
        cgroup.Join(forker.Id);

        ChildProcesses.Go(forker);

        Assert.True(forker.WaitForExit(10_000));
        // The forker itself is one task of the five allowed.
        Assert.Equal("4", forker.StandardOutput.ReadToEnd().Trim());
        _pool.Release(cgroup);
    }

    [Fact]
    public void Cpu_quota_throttles_a_busy_process()
    {
        // A tenth of a CPU: a busy loop uses its quota early in every 100 ms period and waits out
        // the rest, which the kernel counts in cpu.stat (both versions name it nr_throttled).
        var cgroup = _pool.Claim(new CgroupLimits(64L << 20, 0.1, 8));
        var busy = Children.Start("/bin/sh", "-c", "while :; do :; done");
        cgroup.Join(busy.Id);
        string stat = Path.Combine(cgroup.CpuDirectory, "cpu.stat");

        Wait.Until(() => long.Parse(CgroupFs.ReadKey(stat, "nr_throttled") ?? "0", System.Globalization.CultureInfo.InvariantCulture) > 2,
            "the busy loop was throttled", 30_000);

        _pool.Release(cgroup);
        Assert.True(busy.WaitForExit(5000));
    }

    [FactOnHost(HostNeed.CgroupV2Controllers)]
    public void On_a_pure_v2_host_a_sandbox_is_one_cgroup_holding_every_limit()
    {
        var cgroup = _pool.Claim(new CgroupLimits(64L << 20, 0.5, 17));

        string dir = Assert.Single(cgroup.Directories);
        Assert.Equal([cgroup.MemoryDirectory, cgroup.CpuDirectory, cgroup.PidsDirectory], [dir, dir, dir]);
        CgroupAssert.HasLimits(cgroup, _pool.Layout, 64L << 20, 50_000, 100_000, 17);
        // The instance's parent hands every controller down; freezing is core cgroup2, no controller.
        var enabled = CgroupFs.Read(Path.Combine(Path.GetDirectoryName(dir)!, "cgroup.subtree_control")).Split(' ');
        Assert.Subset(enabled.ToHashSet(), new HashSet<string> { "memory", "cpu", "pids" });
        Assert.Equal(2, _pool.Layout.Freezer?.Version);
        _pool.Release(cgroup);
    }

    [Fact]
    public void Release_kills_leftover_processes()
    {
        var cgroup = _pool.Claim(new CgroupLimits(48L << 20, 0.25, 9));
        var sleeps = new[] { Children.Sleep(), Children.Sleep() };
        foreach (var s in sleeps)
            cgroup.Join(s.Id);
        Assert.Equal(sleeps.Select(s => s.Id).Order(), cgroup.Pids());

        _pool.Release(cgroup);

        foreach (var s in sleeps)
        {
            Assert.True(s.WaitForExit(5000), "leftover process survived the release");
            Assert.Equal(137, s.ExitCode);
        }
        // The pool was refilled meanwhile, so this one is above target: recycled, then destroyed.
        Wait.Until(() => _pool.Stats().Recycled + _pool.Stats().Destroyed > 0, "the released cgroup was handled");
        Assert.Equal(0, _pool.Stats().InUse);
    }

    [Fact]
    public void Release_of_a_frozen_cgroup_still_kills_and_thaws_it()
    {
        var cgroup = _pool.Claim();
        Assert.True(cgroup.CanFreeze);
        var sleep = Children.Sleep();
        cgroup.Join(sleep.Id);
        cgroup.Freeze();
        Assert.True(cgroup.IsFrozen);

        _pool.Release(cgroup);

        Assert.True(sleep.WaitForExit(5000), "a frozen leftover process survived the release");
        Assert.Equal(137, sleep.ExitCode);
    }

    [Fact]
    public void Freeze_stops_the_sandbox_and_thaw_resumes_it()
    {
        var cgroup = _pool.Claim();
        string file = Path.Combine(Path.GetTempPath(), Instance.Naming.Name + "-pool-count");
        var counter = Children.Counter(file);
        cgroup.Join(counter.Id);
        Wait.Until(() => File.Exists(file) && File.ReadAllText(file).Length > 0, "the counter started");

        cgroup.Freeze();
        string frozenAt = File.ReadAllText(file);
        Thread.Sleep(150);
        Assert.Equal(frozenAt, File.ReadAllText(file));

        cgroup.Thaw();
        Wait.Until(() => File.ReadAllText(file) != frozenAt, "the counter runs again after the thaw");
        File.Delete(file);
        _pool.Release(cgroup);
    }

    protected override void TearDown() => _pool.Dispose();
}
