using Thaw.Resources.Cgroups;
using Thaw.Sandboxes;

namespace Thaw.Tests.Sandboxes;

/// <summary>The cgroup limits and the timeout hold against programs that try to break them.</summary>
public sealed class LimitsTests(SandboxFixture fixture) : IClassFixture<SandboxFixture>
{
    [Fact]
    public async Task Memory_hog_is_killed_by_the_OOM_killer_and_reported()
    {
        var (exit, stdout, _) = await fixture.RunAsync(new SandboxSpec
        {
            Argv = ["/usr/bin/python3", "-c", "x = bytearray(256 << 20); print('survived')"],
            Limits = new CgroupLimits(32L << 20, 1.0, 64),
        });
        Assert.True(exit.OomKilled, exit.ToString());
        Assert.Equal(9, exit.Signal);
        Assert.DoesNotContain("survived", stdout, StringComparison.Ordinal);
        Assert.Contains("out of memory", exit.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sandbox_within_its_memory_limit_is_not_reported_as_OOM()
    {
        var (exit, stdout, _) = await fixture.RunAsync(new SandboxSpec
        {
            Argv = ["/usr/bin/python3", "-c", "x = bytearray(8 << 20); print('fine')"],
            Limits = new CgroupLimits(64L << 20, 1.0, 64),
        });
        Assert.Equal(0, exit.ExitCode);
        Assert.False(exit.OomKilled);
        Assert.Equal("fine\n", stdout);
    }

    [Fact]
    public async Task Fork_bomb_is_stopped_by_pids_max()
    {
        // Each round forks as many sleepers as it can; the cgroup refuses past 16 tasks.
        var (exit, stdout, stderr) = await fixture.RunAsync(new SandboxSpec
        {
            Argv = ["/bin/sh", "-c", "n=0; for i in $(seq 100); do sleep 5 2>/dev/null & n=$((n+1)); done; ls /proc | grep -c '^[0-9]' ; kill $(jobs -p) 2>/dev/null; exit 0"],
            Limits = new CgroupLimits(64L << 20, 1.0, 16),
            Timeout = TimeSpan.FromSeconds(30),
        });
        Assert.False(exit.TimedOut);
        Assert.Contains("fork", stderr, StringComparison.OrdinalIgnoreCase);
        if (int.TryParse(stdout.Trim().Split('\n')[^1], out int visible))
            Assert.InRange(visible, 1, 16);
    }

    [Fact]
    public async Task Timeout_kills_the_sandbox()
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var (exit, _, _) = await fixture.RunAsync(new SandboxSpec { Argv = ["/bin/sleep", "30"], Timeout = TimeSpan.FromMilliseconds(300) });
        Assert.True(exit.TimedOut);
        Assert.Equal(9, exit.Signal);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(20), $"took {started.Elapsed}");
    }

    [Fact]
    public async Task A_limit_that_cannot_be_set_is_refused_and_nothing_is_kept()
    {
        long inUse = InUse();
        var error = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Spawner.CreateAsync(new SandboxSpec
        {
            Argv = ["/bin/true"],
            Limits = new CgroupLimits(64L << 20, 0.0001, 16),
        }));
        Assert.Contains("CpuQuota", error.Message, StringComparison.Ordinal);
        Assert.Equal(inUse, InUse());
    }

    private long InUse() => fixture.Host.Stats().Sum(s => s.InUse);
}
