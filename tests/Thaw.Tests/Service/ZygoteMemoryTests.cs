using Thaw.Service.Scheduling;
using Thaw.Tests.Support;

namespace Thaw.Tests.Service;

/// <summary>
/// A zygote's memory cgroup holds the zygote, not its sandboxes: 300 live sandboxes of a numpy
/// function cost the root zygote and the numpy zygote no OOM kill (each counted by the kernel in its
/// cgroup's memory.oom_control on v1, memory.events on v2) and no restart.
/// </summary>
public sealed class ZygoteMemoryTests : IAsyncLifetime
{
    private const int Live = 300;
    private const string Numpy = "import numpy\ndef f(event):\n    return int(numpy.arange(4).sum())\n";
    private ThawdInstance _thawd = null!;

    public async Task InitializeAsync() => _thawd = await ThawdInstance.StartAsync(o =>
    {
        o.HandlerCache.FreezeAfter = TimeSpan.FromMilliseconds(200);
        // Room for them all: this test is about the zygotes' cgroups, not the node's budget.
        o.HandlerCache.MemoryBudgetBytes = 16L << 30;
        o.HandlerCache.OvercommitFactor = 64;
        o.Resources.Netns.Size = o.Resources.Cgroups.Size = o.Resources.Roots.Size = 8;
    });

    public async Task DisposeAsync() => await _thawd.DisposeAsync();

    // A parked child joins its own cgroup before it warms up and pre-faults: were those pages charged
    // to its zygote's cgroup (256 MiB), the kernel would OOM-kill the zygote (seen with the root one).
    [Fact]
    public async Task Three_hundred_live_numpy_sandboxes_cost_no_zygote_an_oom_kill()
    {
        await _thawd.DeployOkAsync("numeric", $"name = \"numeric\"\nmemory = \"128M\"\nconcurrency = {Live}\n", ("f.py", Numpy));
        var thawd = _thawd.Thawd;
        var cache = thawd.Cache;
        using (var reply = await _thawd.InvokeAsync("numeric", "{}"))
            Assert.True(reply.IsSuccessStatusCode, await reply.Content.ReadAsStringAsync());
        await Wait.UntilAsync(() => thawd.Python.ImportCache!.Nodes.Any(n => n.Packages.Contains("numpy")), TimeSpan.FromSeconds(60), "the numpy zygote");
        await Wait.UntilAsync(() => cache.Stats().MeasuredSandboxes >= 1, TimeSpan.FromSeconds(30), "a numpy sandbox measured");
        var root = thawd.Spawner.Zygote;
        var numpy = thawd.Python.ImportCache!.Nodes.Single(n => n.Packages.Contains("numpy")).Zygote;
        var zygotes = new[] { root, numpy };
        var killsBefore = zygotes.Select(z => z.Cgroup.OomKills()).ToArray();
        int restartsBefore = thawd.Spawner.ZygoteRestarts;

        var leases = new List<SandboxLease>();
        try
        {
            for (int i = 0; i < Live; i += 4)
                leases.AddRange(await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => cache.AcquireAsync("numeric"))));
            foreach (var lease in leases)
                Assert.True((await lease.Sandbox.Python.InvokeAsync("{}"u8.ToArray(), TimeSpan.FromSeconds(30))).Succeeded);

            Assert.Equal(Live, cache.Stats().Functions.Single().Instances);
            Assert.All(zygotes, z => Assert.True(z.IsAlive, $"zygote {z.Pid} ({string.Join(',', z.Modules)}) died"));
            Assert.Equal(killsBefore, zygotes.Select(z => z.Cgroup.OomKills()).ToArray());
            Assert.Equal(restartsBefore, thawd.Spawner.ZygoteRestarts);
            Assert.Same(numpy, thawd.Python.ImportCache.Nodes.Single(n => n.Packages.Contains("numpy")).Zygote);
            // What their cgroup holds (the zygotes and the pages they copied while sandboxes keep the old
            // ones) is what the budget counts for them, read every 2 s.
            long held = root.Cgroup.MemoryUsageBytes();
            Assert.True(held > numpy.MemoryBytes(), $"the zygotes' cgroup holds {held >> 20} MiB");
            await Wait.UntilAsync(() => cache.Stats().ZygoteBytes >= held * 9 / 10, TimeSpan.FromSeconds(10),
                $"the budget to count the zygotes' cgroup ({held >> 20} MiB; counts {cache.Stats().ZygoteBytes >> 20} MiB)");
        }
        finally
        {
            foreach (var lease in leases)
                cache.Release(lease, healthy: true);
        }
    }
}
