using Thaw.Service.Scheduling;
using Thaw.Tests.Support;

namespace Thaw.Tests.Service;

/// <summary>
/// What an idle sandbox costs thawd in file descriptors: its invoke socket and its two output
/// sockets, nothing of its pooled netns and cgroup (closed once it entered them, reopened when the
/// pools recycle them). At nine each, a 20,000-descriptor limit held ~2,150 sandboxes.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class IdleDescriptorTests : IAsyncLifetime
{
    private const int Held = 30;
    private ThawdInstance _thawd = null!;

    public async Task InitializeAsync() => _thawd = await ThawdInstance.StartAsync(o =>
    {
        o.HandlerCache.FreezeAfter = TimeSpan.FromMilliseconds(200);
        // One parked child, whatever the demand: the ones a burst of starts adds hold descriptors too.
        o.Sandboxes.Zygote.MaxParked = o.Sandboxes.Zygote.Parked;
    });

    public async Task DisposeAsync() => await _thawd.DisposeAsync();

    [Fact]
    public async Task An_idle_sandbox_holds_three_of_thawds_descriptors_and_its_resources_return_whole()
    {
        await _thawd.DeployOkAsync("hello", $"name = \"hello\"\nmemory = \"64M\"\nconcurrency = {Held}\n", ("f.py", "def f(event):\n    return 'hello'\n"));
        var cache = _thawd.Thawd.Cache;
        using (var reply = await _thawd.InvokeAsync("hello", "{}"))
            Assert.True(reply.IsSuccessStatusCode);
        await Wait.UntilAsync(() => cache.Stats().Functions.Single().Frozen == 1, TimeSpan.FromSeconds(30), "first sandbox frozen");
        int before = LeakCensus.OpenFds();

        var leases = new List<SandboxLease>();
        for (int i = 0; i < Held; i++)
            leases.Add(await cache.AcquireAsync("hello"));
        foreach (var lease in leases)
            cache.Release(lease, healthy: true);
        await Wait.UntilAsync(() => cache.Stats().Functions.Single().Frozen == Held, TimeSpan.FromSeconds(60), $"{Held} sandboxes frozen");
        // Pools refill in the background up to their target: let them settle, then count.
        await Task.Delay(500);
        double perSandbox = (LeakCensus.OpenFds() - before) / (double)(Held - 1);
        Assert.True(perSandbox <= 3.5, $"{perSandbox:0.##} descriptors per idle sandbox");

        // Every sandbox stops; its netns and cgroup are recycled with their descriptors reopened, and serve again.
        using (var removed = await _thawd.Http.DeleteAsync("v1/functions/hello"))
            Assert.True(removed.IsSuccessStatusCode);
        await _thawd.DeployOkAsync("hello", $"name = \"hello\"\nmemory = \"64M\"\nconcurrency = {Held}\n", ("f.py", "def f(event):\n    return 'again'\n"));
        leases.Clear();
        for (int i = 0; i < 8; i++)
            leases.Add(await cache.AcquireAsync("hello"));
        foreach (var lease in leases)
        {
            var result = await lease.Sandbox.Python.InvokeAsync("{}"u8.ToArray(), TimeSpan.FromSeconds(10));
            Assert.True(result.Succeeded);
            cache.Release(lease, healthy: true);
        }
    }
}
