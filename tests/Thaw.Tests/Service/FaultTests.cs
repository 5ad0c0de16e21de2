using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Thaw.Tests.Support;

namespace Thaw.Tests.Service;

/// <summary>
/// Hostile functions and killed processes against a real thawd: zygotes that die with requests
/// unread, sandboxes killed while frozen, handlers that write garbage on their invoke socket, events
/// that are not UTF-8. thawd lives on, every call gets a 200 or a documented error, nothing leaks.
/// </summary>
public sealed class FaultTests : IAsyncLifetime
{
    private ThawdInstance _thawd = null!;

    // No parked children: a cold start's spawn goes to the zygote itself (what these tests stop and
    // kill), and every process in a sandbox cgroup is a sandbox's.
    public async Task InitializeAsync() => _thawd = await ThawdInstance.StartAsync(o =>
    {
        o.Sandboxes.Zygote.Parked = 0;
        o.HandlerCache.FreezeAfter = TimeSpan.FromMilliseconds(100);
    });

    public async Task DisposeAsync() => await _thawd.DisposeAsync();

    private const string Hello = "def f(event):\n    return 'hello'\n";

    [Fact]
    public async Task A_zygote_that_dies_with_a_spawn_unread_is_replaced_and_the_call_served()
    {
        await _thawd.DeployOkAsync("hello", "name = \"hello\"\n", ("f.py", Hello));
        var spawner = _thawd.Thawd.Spawner;
        int zygote = spawner.Zygote.Pid;
        // Stopped, it cannot read the spawn; killed then, it closes its socket with the spawn unread,
        // and thawd's reader gets ECONNRESET from recvmsg (what a kernel OOM kill mid-burst does).
        Signal(zygote, "STOP");
        var call = _thawd.InvokeAsync("hello", "{}");
        await Wait.UntilAsync(() => spawner.Live.Any(s => s.Status == Thaw.Sandboxes.SandboxStatus.Creating), TimeSpan.FromSeconds(10), "the spawn sent");
        await Task.Delay(200); // the send itself, right after the sandbox is listed
        Signal(zygote, "KILL");

        using var reply = await call;
        Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        Assert.Equal("\"hello\"", await reply.Content.ReadAsStringAsync());
        Assert.NotEqual(zygote, spawner.Zygote.Pid);
        Assert.Equal(1, spawner.ZygoteRestarts);
        using var health = JsonDocument.Parse(await _thawd.Http.GetStringAsync("healthz"));
        Assert.Equal("ok", health.RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_child_zygote_killed_during_a_burst_of_cold_calls_fails_none_of_them()
    {
        const int calls = 30;
        await _thawd.DeployOkAsync("numeric", $"name = \"numeric\"\nkeep_alive = \"0s\"\nmemory = \"64M\"\nconcurrency = {calls}\n",
            ("f.py", "import numpy\ndef f(event):\n    return int(numpy.arange(4).sum())\n"));
        var node = _thawd.Thawd.Python.ImportCache!.Nodes.Single(n => n.Packages.Contains("numpy"));

        var burst = Enumerable.Range(0, calls).Select(_ => _thawd.InvokeAsync("numeric", "{}")).ToList();
        await Wait.UntilAsync(() => _thawd.Thawd.Spawner.Live.Count >= 3, TimeSpan.FromSeconds(30), "the burst under way");
        Process.GetProcessById(node.Zygote.Pid).Kill();

        // A call whose sandbox had not started goes to the parent zygote; one whose handler was running
        // when its zygote's death took its sandbox down is a documented 502, never a 500.
        var replies = await Task.WhenAll(burst);
        var failed = new List<string>();
        int ok = 0;
        foreach (var reply in replies)
            using (reply)
            {
                string body = await reply.Content.ReadAsStringAsync();
                if (reply.StatusCode == HttpStatusCode.OK)
                    ok++;
                else if (reply.StatusCode != HttpStatusCode.BadGateway || JsonDocument.Parse(body).RootElement.GetProperty("code").GetString() != "sandbox_died")
                    failed.Add($"{(int)reply.StatusCode} {body}");
            }
        Assert.True(failed.Count == 0, $"{failed.Count} of {calls} calls failed otherwise than sandbox_died: {string.Join("; ", failed.Distinct())}");
        Assert.True(ok > 0, "no call of the burst was served");
        using var after = await _thawd.InvokeAsync("numeric", "{}");
        Assert.Equal("6", await after.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Evicting_a_frozen_sandbox_kills_it()
    {
        await _thawd.DeployOkAsync("small", "name = \"small\"\nmemory = \"64M\"\n", ("f.py", Hello));
        await _thawd.DeployOkAsync("huge", "name = \"huge\"\nmemory = \"512M\"\n", ("f.py", Hello));
        using (var warm = await _thawd.InvokeAsync("small", "{}"))
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        var cache = _thawd.Thawd.Cache;
        await Wait.UntilAsync(() => cache.Stats().Functions.Single(f => f.Name == "small").Frozen == 1, TimeSpan.FromSeconds(10), "small's sandbox frozen");
        Assert.Equal(1, SandboxProcesses());

        // Room for small's sandbox, never for huge's: the call is refused, whatever was evicted for it.
        cache.Options.MemoryBudgetBytes = cache.Stats().ZygoteBytes + (256L << 20);
        using (var refused = await _thawd.InvokeAsync("huge", "{}"))
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);

        // Every sandbox process is one the cache counts: an evicted one was killed, frozen or not.
        var waited = Stopwatch.StartNew();
        while (cache.Stats().Functions.Sum(f => f.Instances) != SandboxProcesses() && waited.Elapsed < TimeSpan.FromSeconds(15))
            await Task.Delay(20);
        Assert.Equal(cache.Stats().Functions.Sum(f => f.Instances), SandboxProcesses());
    }

    [Fact]
    public async Task A_frozen_sandbox_killed_from_outside_is_not_handed_a_call()
    {
        await _thawd.DeployOkAsync("sleepy", "name = \"sleepy\"\n", ("f.py", Hello));
        using (var first = await _thawd.InvokeAsync("sleepy", "{}"))
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        await Wait.UntilAsync(() => _thawd.Thawd.Cache.Stats().Functions.Single().Frozen == 1, TimeSpan.FromSeconds(10), "the idle sandbox frozen");
        var sandbox = _thawd.Thawd.Spawner.Live.Single();
        Process.GetProcessById(sandbox.Pid!.Value).Kill(); // frozen: it dies only once thawed

        using var reply = await _thawd.InvokeAsync("sleepy", "{}");
        string body = await reply.Content.ReadAsStringAsync();
        Assert.True(reply.StatusCode == HttpStatusCode.OK, $"{(int)reply.StatusCode} {body}");
        Assert.Equal("\"hello\"", body);
        Assert.NotEqual(sandbox.Id, reply.Headers.GetValues("X-Thaw-Sandbox").Single());
    }

    [Fact]
    public async Task A_handler_that_writes_a_malformed_frame_gets_a_502_and_its_slot_back()
    {
        // The runtime's invoke socket, found on the stack: the handler writes 5 bytes of non-JSON as a frame.
        const string code = """
            import sys
            def f(event):
                if event.get('garble'):
                    frame = sys._getframe()
                    while 'sock' not in frame.f_locals:
                        frame = frame.f_back
                    frame.f_locals['sock'].sendall(b'\x00\x00\x00\x05oops!')
                return 'fine'
            """;
        await _thawd.DeployOkAsync("garbler", "name = \"garbler\"\nconcurrency = 1\n", ("f.py", code));
        using (var fine = await _thawd.InvokeAsync("garbler", "{}"))
            Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
        var pid = _thawd.Thawd.Spawner.Live.Single().Pid!.Value;

        using (var garbled = await _thawd.InvokeAsync("garbler", """{"garble": true}"""))
        {
            Assert.Equal(HttpStatusCode.BadGateway, garbled.StatusCode);
            using var body = JsonDocument.Parse(await garbled.Content.ReadAsStringAsync());
            Assert.Equal("protocol_error", body.RootElement.GetProperty("code").GetString());
        }
        await Wait.UntilAsync(() => !Directory.Exists($"/proc/{pid}"), TimeSpan.FromSeconds(10), "the garbling sandbox killed");
        Assert.Equal(0, _thawd.Thawd.Cache.Stats().Functions.Single().Busy);
        // Its one slot (concurrency 1) is free again: the next call is served.
        using var next = await _thawd.InvokeAsync("garbler", "{}");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task An_event_that_is_not_utf8_is_refused_and_the_sandbox_lives_on()
    {
        await _thawd.DeployOkAsync("echo", "name = \"echo\"\n", ("f.py", "def f(event):\n    return event\n"));
        string sandbox;
        using (var first = await _thawd.InvokeAsync("echo", """{"a":"b"}"""))
            sandbox = first.Headers.GetValues("X-Thaw-Sandbox").Single();

        for (int i = 0; i < 3; i++)
        {
            using var bad = await _thawd.Http.PostAsync("v1/functions/echo/invoke", new ByteArrayContent([.. "{\"a\":\""u8, 0xff, 0xfe, .. "\"}"u8]));
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            using var body = JsonDocument.Parse(await bad.Content.ReadAsStringAsync());
            Assert.Equal("bad_event", body.RootElement.GetProperty("code").GetString());
        }
        using var after = await _thawd.InvokeAsync("echo", """{"a":"é"}""");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal("""{"a":"é"}""", await after.Content.ReadAsStringAsync());
        Assert.Equal("warm", after.Headers.GetValues("X-Thaw-Start").Single());
        Assert.Equal(sandbox, after.Headers.GetValues("X-Thaw-Sandbox").Single());
    }

    /// <summary>Processes in the instance's sandbox cgroups, the root zygote's own cgroup (and its child zygotes) left out.</summary>
    private int SandboxProcesses()
    {
        var zygote = _thawd.Thawd.Spawner.Zygote.Cgroup;
        string instance = Path.GetDirectoryName(zygote.Directories[0])!;
        return Directory.EnumerateDirectories(instance, "sb-*")
            .Where(d => Path.GetFileName(d) != Path.GetFileName(zygote.Directories[0]))
            .Sum(d => File.ReadAllLines(Path.Combine(d, "cgroup.procs")).Count(l => l.Length > 0));
    }

    private static void Signal(int pid, string signal)
    {
        var (code, output) = LeakCensus.Run("kill", "-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(code == 0, $"kill -{signal} {pid}: {output}");
    }
}
