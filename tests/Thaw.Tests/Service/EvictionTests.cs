using System.Net;
using System.Text.Json;

namespace Thaw.Tests.Service;

/// <summary>The node memory budget: Greedy-Dual picks what goes, and nothing is overcommitted.</summary>
public sealed class EvictionTests : IAsyncLifetime
{
    private ThawdInstance _thawd = null!;

    // No freezing here: a sandbox is out of the idle list for the moment the freezer pauses it, and
    // these tests count exactly which idle sandboxes eviction sees.
    public async Task InitializeAsync() => _thawd = await ThawdInstance.StartAsync(o => o.HandlerCache.FreezeAfter = TimeSpan.FromHours(1));

    public async Task DisposeAsync() => await _thawd.DisposeAsync();

    private const string Code = "def f(event):\n    return 'ok'\n";

    [Fact]
    public async Task Greedy_dual_evicts_the_rarely_called_sandbox_not_the_least_recently_used()
    {
        // "hot" is also the costly one to start (its module takes 300 ms to load): Greedy-Dual weighs
        // start cost too, so under a loaded test host a slow cold start of "rare" cannot outweigh it.
        await _thawd.DeployOkAsync("hot", "name = \"hot\"\nmemory = \"64M\"\n", ("f.py", "import time\ntime.sleep(0.3)\n" + Code));
        foreach (var name in new[] { "rare", "newcomer" })
            await _thawd.DeployOkAsync(name, $"name = \"{name}\"\nmemory = \"64M\"\n", ("f.py", Code));
        // Room for two 64 MiB sandboxes besides the zygotes.
        var cache = _thawd.Thawd.Cache;
        cache.Options.MemoryBudgetBytes = cache.Stats().ZygoteBytes + (2 * 64L << 20) + (16L << 20);

        for (int i = 0; i < 20; i++)
            using (var reply = await _thawd.InvokeAsync("hot", "{}"))
                Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        // "rare" is called once, after "hot": LRU would evict "hot" now.
        using (var reply = await _thawd.InvokeAsync("rare", "{}"))
            Assert.Equal(HttpStatusCode.OK, reply.StatusCode);

        using (var reply = await _thawd.InvokeAsync("newcomer", "{}"))
            Assert.Equal(HttpStatusCode.OK, reply.StatusCode);

        var stats = cache.Stats();
        string seen = string.Join("; ", stats.Functions.Select(f => $"{f.Name}: {f.Instances} instances, {f.ColdCalls} cold, {f.WarmCalls} warm"));
        Assert.True(stats.Evictions == 1, $"evictions {stats.Evictions}; {seen}");
        Assert.Equal(1, stats.Functions.Single(f => f.Name == "hot").Instances);
        Assert.Equal(0, stats.Functions.Single(f => f.Name == "rare").Instances);
        Assert.Equal(1, stats.Functions.Single(f => f.Name == "newcomer").Instances);
        using (var hot = await _thawd.InvokeAsync("hot", "{}"))
            Assert.Equal("warm", hot.Headers.GetValues("X-Thaw-Start").Single());
        Assert.Contains("thaw_handler_cache_evictions_total 1", await _thawd.Http.GetStringAsync("metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_sandbox_that_does_not_fit_the_budget_is_refused_not_overcommitted()
    {
        await _thawd.DeployOkAsync("huge", "name = \"huge\"\nmemory = \"512M\"\n", ("f.py", Code));
        var cache = _thawd.Thawd.Cache;
        cache.Options.MemoryBudgetBytes = cache.Stats().ZygoteBytes + (256L << 20);

        using var reply = await _thawd.InvokeAsync("huge", "{}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, reply.StatusCode);
        Assert.NotNull(reply.Headers.RetryAfter);
        using var body = JsonDocument.Parse(await reply.Content.ReadAsStringAsync());
        Assert.Equal("memory_budget", body.RootElement.GetProperty("code").GetString());
        Assert.Contains("needs 512 MiB", body.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Empty(_thawd.Thawd.Spawner.Live);
        Assert.Equal(0, cache.Stats().ReservedBytes);
    }
}
