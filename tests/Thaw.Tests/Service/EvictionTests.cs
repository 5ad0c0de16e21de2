using System.Net;
using System.Text.Json;
using Thaw.Service.Scheduling;

namespace Thaw.Tests.Service;

/// <summary>The node memory budget by limits: Greedy-Dual picks what goes, nothing is overcommitted, and a call that cannot fit evicts nothing.</summary>
public sealed class EvictionTests : IAsyncLifetime
{
    private ThawdInstance _thawd = null!;

    // No freezing here: a sandbox is out of the idle list for the moment the freezer pauses it, and
    // these tests count exactly which idle sandboxes eviction sees.
    // Limits: each sandbox counts exactly its memory limit, so the budgets below are exact.
    public async Task InitializeAsync() => _thawd = await ThawdInstance.StartAsync(o =>
    {
        o.HandlerCache.FreezeAfter = TimeSpan.FromHours(1);
        o.HandlerCache.Accounting = MemoryAccounting.Limits;
    });

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
        // It would not fit on an idle node either: no Retry-After that can never come true.
        Assert.Null(reply.Headers.RetryAfter);
        using var body = JsonDocument.Parse(await reply.Content.ReadAsStringAsync());
        Assert.Equal("memory_budget", body.RootElement.GetProperty("code").GetString());
        Assert.Contains("needs 512 MiB", body.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Empty(_thawd.Thawd.Spawner.Live);
        Assert.Equal(0, cache.Stats().ReservedBytes);
    }

    [Fact]
    public async Task A_call_that_cannot_fit_evicts_no_idle_sandbox()
    {
        await _thawd.DeployOkAsync("small", "name = \"small\"\nmemory = \"64M\"\n", ("f.py", Code));
        await _thawd.DeployOkAsync("huge", "name = \"huge\"\nmemory = \"512M\"\n", ("f.py", Code));
        var cache = _thawd.Thawd.Cache;
        // One sandbox of small busy (held here), one idle.
        var busy = await cache.AcquireAsync("small");
        using (var reply = await _thawd.InvokeAsync("small", "{}"))
            Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        Assert.Equal(1, cache.Stats().Functions.Single(f => f.Name == "small").Idle);
        // huge fits once both of small's sandboxes are gone; evicting the idle one alone frees too little.
        cache.Options.MemoryBudgetBytes = cache.Stats().ZygoteBytes + (512L << 20) + (32L << 20);

        for (int i = 0; i < 3; i++)
        {
            using var reply = await _thawd.InvokeAsync("huge", "{}");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, reply.StatusCode);
            Assert.NotNull(reply.Headers.RetryAfter); // it fits when the busy sandbox is done
        }
        var stats = cache.Stats();
        Assert.Equal(0, stats.Evictions);
        Assert.Equal(1, stats.Functions.Single(f => f.Name == "small").Idle);
        using (var warm = await _thawd.InvokeAsync("small", "{}"))
            Assert.Equal("warm", warm.Headers.GetValues("X-Thaw-Start").Single());
        cache.Release(busy, healthy: true);
    }

    [Fact]
    public async Task A_call_evicts_when_the_eviction_makes_it_fit()
    {
        await _thawd.DeployOkAsync("small", "name = \"small\"\nmemory = \"64M\"\n", ("f.py", Code));
        await _thawd.DeployOkAsync("big", "name = \"big\"\nmemory = \"256M\"\n", ("f.py", Code));
        var cache = _thawd.Thawd.Cache;
        using (var reply = await _thawd.InvokeAsync("small", "{}"))
            Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        cache.Options.MemoryBudgetBytes = cache.Stats().ZygoteBytes + (256L << 20) + (16L << 20);

        using (var reply = await _thawd.InvokeAsync("big", "{}"))
            Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        var stats = cache.Stats();
        Assert.Equal(1, stats.Evictions);
        Assert.Equal(0, stats.Functions.Single(f => f.Name == "small").Instances);
    }

    [Fact]
    public async Task A_deploy_whose_memory_exceeds_the_budget_is_refused_naming_both()
    {
        using var reply = await _thawd.DeployAsync("giant", ThawdInstance.TarGz(_thawd.FunctionDir("name = \"giant\"\nmemory = \"64G\"\n", ("f.py", Code))));
        string text = await reply.Content.ReadAsStringAsync();
        Assert.True(reply.StatusCode == HttpStatusCode.BadRequest, $"{(int)reply.StatusCode} {text}");
        using var body = JsonDocument.Parse(text);
        Assert.Equal("bad_manifest", body.RootElement.GetProperty("code").GetString());
        string error = body.RootElement.GetProperty("error").GetString()!;
        Assert.Contains("65536 MiB", error, StringComparison.Ordinal);
        Assert.Contains($"{_thawd.Thawd.Cache.Options.MemoryBudgetBytes >> 20} MiB", error, StringComparison.Ordinal);
        using var get = await _thawd.Http.GetAsync("v1/functions/giant");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }
}
