using System.Text.Json;
using Thaw.Service.Scheduling;
using Thaw.Tests.Support;

namespace Thaw.Tests.Service;

/// <summary>
/// The budget counting measured memory with real sandboxes: idle hello sandboxes count their
/// cgroup's usage plus headroom, not their limit, so a node holds far more of them than
/// sum-of-limits allows.
/// </summary>
public sealed class MemoryAccountingTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private const string Hello = "def f(event):\n    return 'hello'\n";
    private const int LimitMiB = 64;
    // The budget leaves room for this many sandboxes by their limits, and the test holds Held at once.
    private const int ByLimits = 12;
    private const int Held = 36;

    private ThawdInstance _thawd = null!;

    public async Task InitializeAsync() => _thawd = await ThawdInstance.StartAsync(o =>
    {
        o.HandlerCache.FreezeAfter = TimeSpan.FromMilliseconds(200);
        o.Resources.Netns.Size = o.Resources.Cgroups.Size = o.Resources.Roots.Size = 8;
    });

    public async Task DisposeAsync() => await _thawd.DisposeAsync();

    [Fact]
    public async Task Idle_sandboxes_count_their_measured_usage_plus_headroom_so_the_node_holds_more_than_by_limits()
    {
        var cache = _thawd.Thawd.Cache;
        Assert.Equal(MemoryAccounting.Measured, cache.Options.Accounting); // the default
        await _thawd.DeployOkAsync("hello", $"name = \"hello\"\nmemory = \"{LimitMiB}M\"\nconcurrency = {Held}\n", ("f.py", Hello));
        // One sandbox idles and freezes first: its measurement is what its siblings are charged until measured themselves.
        await WaitIdleAndMeasuredAsync(cache, 1);
        cache.Options.MemoryBudgetBytes = cache.Stats().ZygoteBytes + ((long)ByLimits * LimitMiB << 20) + (16L << 20);

        var leases = new List<SandboxLease>();
        for (int i = 0; i < Held; i++)
            leases.Add(await cache.AcquireAsync("hello"));
        foreach (var lease in leases)
            cache.Release(lease, healthy: true);
        await WaitIdleAndMeasuredAsync(cache, Held);

        var stats = cache.Stats();
        Assert.Equal(Held, stats.Functions.Single().Instances);
        Assert.Equal(0, stats.Evictions);
        Assert.Equal(0, stats.BudgetRefusals);
        Assert.Equal((long)Held * LimitMiB << 20, stats.LimitBytes);
        Assert.True(stats.LimitBytes > cache.Options.MemoryBudgetBytes, "the sandboxes' limits exceed the budget");
        Assert.True(stats.ReservedBytes + stats.ZygoteBytes <= cache.Options.MemoryBudgetBytes, $"counted {stats.ReservedBytes >> 20} MiB");

        // What thawd counted is the kernel's figure for each sandbox's cgroup, plus (limit − usage) / F.
        long limit = (long)LimitMiB << 20;
        long expected = 0, kernel = 0;
        foreach (var lease in leases)
        {
            long measured = lease.Sandbox.MeasuredBytes!.Value;
            Assert.True(measured > 0 && measured < limit, $"sandbox {lease.Sandbox.Id} measured {measured} bytes");
            expected += measured + (long)((limit - measured) / cache.Options.OvercommitFactor);
            kernel += UsageFromCgroupFs(lease.Sandbox);
        }
        Assert.Equal(expected, stats.ReservedBytes);
        output.WriteLine($"{Held} idle hello sandboxes: measured {stats.MeasuredBytes / (double)Held / (1 << 20):0.00} MiB each, counted {stats.ReservedBytes / (double)Held / (1 << 20):0.00} MiB each (limit {LimitMiB} MiB)");
        // Frozen sandboxes do not grow; the kernel may have reclaimed a little since.
        Assert.InRange(stats.MeasuredBytes, kernel * 9 / 10, kernel * 11 / 10 + (1L << 20));

        using var json = JsonDocument.Parse(await _thawd.Http.GetStringAsync("v1/stats"));
        var memory = json.RootElement.GetProperty("memory");
        Assert.Equal("measured", memory.GetProperty("accounting").GetString());
        Assert.Equal(8, memory.GetProperty("overcommit_factor").GetDouble());
        Assert.Equal(stats.ReservedBytes, memory.GetProperty("sandboxes_bytes").GetInt64());
        Assert.Equal(stats.LimitBytes, memory.GetProperty("sandboxes_limits_bytes").GetInt64());
        Assert.Equal(Held, memory.GetProperty("sandboxes_measured").GetInt32());
        string metrics = await _thawd.Http.GetStringAsync("metrics");
        Assert.Contains("thaw_memory_accounting{mode=\"measured\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("thaw_memory_overcommit_factor 8", metrics, StringComparison.Ordinal);
        Assert.Contains($"thaw_memory_bytes{{kind=\"sandboxes_limits\"}} {stats.LimitBytes}", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task By_limits_the_same_budget_refuses_the_sandbox_past_its_limits()
    {
        var cache = _thawd.Thawd.Cache;
        cache.Options.Accounting = MemoryAccounting.Limits;
        await _thawd.DeployOkAsync("hello", $"name = \"hello\"\nmemory = \"{LimitMiB}M\"\nconcurrency = {Held}\n", ("f.py", Hello));
        await WaitIdleAndMeasuredAsync(cache, 1);
        cache.Options.MemoryBudgetBytes = cache.Stats().ZygoteBytes + ((long)ByLimits * LimitMiB << 20) + (16L << 20);

        var leases = new List<SandboxLease>();
        for (int i = 0; i < ByLimits; i++)
            leases.Add(await cache.AcquireAsync("hello"));
        await Assert.ThrowsAsync<MemoryBudgetException>(() => cache.AcquireAsync("hello"));
        var stats = cache.Stats();
        Assert.Equal((long)ByLimits * LimitMiB << 20, stats.ReservedBytes);
        foreach (var lease in leases)
            cache.Release(lease, healthy: true);
        using var json = JsonDocument.Parse(await _thawd.Http.GetStringAsync("v1/stats"));
        Assert.Equal("limits", json.RootElement.GetProperty("memory").GetProperty("accounting").GetString());
    }

    /// <summary>The kernel's own figure for the sandbox's memory cgroup (v1 memory.usage_in_bytes, v2 memory.current).</summary>
    private static long UsageFromCgroupFs(WarmSandbox sandbox)
    {
        string dir = sandbox.Python.Sandbox.Cgroup.MemoryDirectory;
        string file = File.Exists(Path.Combine(dir, "memory.usage_in_bytes")) ? "memory.usage_in_bytes" : "memory.current";
        return long.Parse(File.ReadAllText(Path.Combine(dir, file)).Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Until <paramref name="count"/> sandboxes are idle, frozen and measured (one call first if there are none).</summary>
    private async Task WaitIdleAndMeasuredAsync(HandlerCache cache, int count)
    {
        if (cache.Stats().Functions.Single().Instances == 0)
            using (var reply = await _thawd.InvokeAsync("hello", "{}"))
                Assert.True(reply.IsSuccessStatusCode, await reply.Content.ReadAsStringAsync());
        await Wait.UntilAsync(() =>
        {
            var s = cache.Stats();
            return s.Functions.Single().Frozen == count && s.MeasuredSandboxes == count;
        }, TimeSpan.FromSeconds(90), $"{count} sandboxes frozen and measured");
    }
}
