using System.Net;
using System.Text.Json;
using Thaw.Tests.Support;

namespace Thaw.Tests.Service;

/// <summary>The handler cache through HTTP: redeploys drain, queues fill, timeouts replace, memory limits are named, idle sandboxes freeze.</summary>
public sealed class SchedulingTests : IAsyncLifetime
{
    private ThawdInstance _thawd = null!;

    public async Task InitializeAsync() => _thawd = await ThawdInstance.StartAsync(o =>
    {
        o.HandlerCache.QueueLength = 1;
        o.HandlerCache.FreezeAfter = TimeSpan.FromMilliseconds(100);
    });

    public async Task DisposeAsync() => await _thawd.DisposeAsync();

    private const string Slow = "import time\ndef f(event):\n    time.sleep(event.get('sleep', 0))\n    return {'version': VERSION}\n";

    [Fact]
    public async Task Redeploy_serves_new_code_while_the_old_sandbox_finishes_its_call()
    {
        await _thawd.DeployOkAsync("drain", "name = \"drain\"\n", ("f.py", "VERSION = 1\n" + Slow));
        var inFlight = _thawd.InvokeAsync("drain", """{"sleep": 1.5}""");
        await Wait.UntilAsync(() => _thawd.Thawd.Cache.Stats().Functions.Single().Busy == 1, TimeSpan.FromSeconds(10), "the v1 call running");

        await _thawd.DeployOkAsync("drain", "name = \"drain\"\n", ("f.py", "VERSION = 2\n" + Slow));
        using (var fresh = await _thawd.InvokeAsync("drain", "{}"))
        {
            Assert.Equal("""{"version":2}""", await fresh.Content.ReadAsStringAsync());
            Assert.Equal("2", fresh.Headers.GetValues("X-Thaw-Version").Single());
        }
        using (var old = await inFlight)
        {
            Assert.Equal(HttpStatusCode.OK, old.StatusCode);
            Assert.Equal("""{"version":1}""", await old.Content.ReadAsStringAsync());
            Assert.Equal("1", old.Headers.GetValues("X-Thaw-Version").Single());
        }
        // The v1 sandbox stops once its call is done, then its code goes; v2 stays warm.
        await Wait.UntilAsync(() => _thawd.Thawd.Spawner.Live.Count == 1, TimeSpan.FromSeconds(10), "only the v2 sandbox left");
        string v1 = Path.Combine(_thawd.StateDir, "functions", "drain", "1");
        await Wait.UntilAsync(() => !Directory.Exists(v1), TimeSpan.FromSeconds(10), "v1's code removed");
        Assert.True(Directory.Exists(Path.Combine(_thawd.StateDir, "functions", "drain", "2")));
        using var again = await _thawd.InvokeAsync("drain", "{}");
        Assert.Equal("warm", again.Headers.GetValues("X-Thaw-Start").Single());
    }

    [Fact]
    public async Task A_full_queue_is_429_with_retry_after()
    {
        await _thawd.DeployOkAsync("busy", "name = \"busy\"\nconcurrency = 1\n", ("f.py", "VERSION = 1\n" + Slow));
        var running = _thawd.InvokeAsync("busy", """{"sleep": 1.5}""");
        await Wait.UntilAsync(() => _thawd.Thawd.Cache.Stats().Functions.Single().Busy == 1, TimeSpan.FromSeconds(10), "one call running");
        var queued = _thawd.InvokeAsync("busy", "{}");
        await Wait.UntilAsync(() => _thawd.Thawd.Cache.Stats().Functions.Single().Queued == 1, TimeSpan.FromSeconds(10), "one call queued");

        using (var refused = await _thawd.InvokeAsync("busy", "{}"))
        {
            Assert.Equal((HttpStatusCode)429, refused.StatusCode);
            Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
            Assert.Contains("queue_full", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using (var first = await running)
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        using (var second = await queued)
        {
            Assert.Equal(HttpStatusCode.OK, second.StatusCode);
            Assert.Equal("warm", second.Headers.GetValues("X-Thaw-Start").Single()); // handed the sandbox the first call freed
        }
        Assert.Contains("thaw_rejected_total{reason=\"queue_full\"} 1", await _thawd.Http.GetStringAsync("metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_timeout_is_504_and_the_sandbox_is_killed_and_replaced()
    {
        await _thawd.DeployOkAsync("stuck", "name = \"stuck\"\ntimeout = \"1s\"\n", ("f.py", "VERSION = 1\n" + Slow));
        string first;
        using (var ok = await _thawd.InvokeAsync("stuck", "{}"))
            first = ok.Headers.GetValues("X-Thaw-Sandbox").Single();
        int pid = _thawd.Thawd.Spawner.Live.Single().Pid!.Value;

        using (var timedOut = await _thawd.InvokeAsync("stuck", """{"sleep": 30}"""))
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, timedOut.StatusCode);
            string body = await timedOut.Content.ReadAsStringAsync();
            Assert.Contains("\"code\":\"timeout\"", body, StringComparison.Ordinal);
            Assert.Contains("timeout of 1s", body, StringComparison.Ordinal);
        }
        await Wait.UntilAsync(() => !Directory.Exists($"/proc/{pid}"), TimeSpan.FromSeconds(10), "the stuck sandbox killed");
        // A replacement is started ahead, so the next call is warm, on another sandbox.
        await Wait.UntilAsync(() => _thawd.Thawd.Cache.Stats().Functions.Single() is { Idle: 1 } or { Frozen: 1 }, TimeSpan.FromSeconds(10), "a replacement sandbox idle");
        using var next = await _thawd.InvokeAsync("stuck", "{}");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal("warm", next.Headers.GetValues("X-Thaw-Start").Single());
        Assert.NotEqual(first, next.Headers.GetValues("X-Thaw-Sandbox").Single());
        Assert.Contains("thaw_timeouts_total{function=\"stuck\"} 1", await _thawd.Http.GetStringAsync("metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Hitting_the_memory_limit_is_an_error_naming_it()
    {
        await _thawd.DeployOkAsync("hog", "name = \"hog\"\nmemory = \"48M\"\n", ("f.py", "def f(event):\n    data = bytearray(event['mb'] << 20)\n    return len(data)\n"));
        using (var small = await _thawd.InvokeAsync("hog", """{"mb": 1}"""))
            Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        using var big = await _thawd.InvokeAsync("hog", """{"mb": 400}""");
        Assert.Equal(HttpStatusCode.BadGateway, big.StatusCode);
        using var body = JsonDocument.Parse(await big.Content.ReadAsStringAsync());
        Assert.Equal("out_of_memory", body.RootElement.GetProperty("code").GetString());
        Assert.Contains("ran out of memory (limit 48 MiB)", body.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        using var after = await _thawd.InvokeAsync("hog", """{"mb": 1}""");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal("cold", after.Headers.GetValues("X-Thaw-Start").Single());
    }

    [Fact]
    public async Task Idle_sandboxes_are_frozen_and_thawed_by_the_next_call()
    {
        await _thawd.DeployOkAsync("sleepy", "name = \"sleepy\"\n", ("f.py", "import os\ndef f(event):\n    return os.getpid()\n"));
        using (var first = await _thawd.InvokeAsync("sleepy", "{}"))
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        await Wait.UntilAsync(() => _thawd.Thawd.Cache.Stats().Functions.Single().Frozen == 1, TimeSpan.FromSeconds(10), "the idle sandbox frozen");
        var sandbox = _thawd.Thawd.Spawner.Live.Single();
        Assert.True(sandbox.Cgroup.IsFrozen);
        // Frozen for real: its state in /proc is stopped-by-freezer (D or S, but it does not run); the cgroup says FROZEN.

        using var second = await _thawd.InvokeAsync("sleepy", "{}");
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("warm", second.Headers.GetValues("X-Thaw-Start").Single());
        Assert.Contains("thaw;dur=", second.Headers.GetValues("Server-Timing").Single(), StringComparison.Ordinal);
        Assert.False(sandbox.Cgroup.IsFrozen);
        using var stats = JsonDocument.Parse(await _thawd.Http.GetStringAsync("v1/stats"));
        Assert.True(stats.RootElement.GetProperty("handler_cache").GetProperty("thaws").GetInt32() >= 1);
    }
}
