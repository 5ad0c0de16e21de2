using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Thaw.Linux.Cgroups;
using Thaw.Linux.Processes;
using Thaw.Tests.Support;

namespace Thaw.Tests.Service;

/// <summary>
/// Chaos against a real `thaw serve`: concurrent calls to Python and exec functions while a warm
/// sandbox, a frozen sandbox, a child zygote, the root zygote and finally thawd itself are killed
/// with SIGKILL; then a restart and a clean stop. Every call gets a 200 or a documented error (none
/// is lost but those in flight when thawd died), nothing of the instance outlives thawd by 2 s, the
/// restarted thawd serves every function, and a clean stop leaves nothing behind.
/// </summary>
public sealed class ChaosTests : IDisposable
{
    // The Python functions' memory limits, which no pooled cgroup holds by default: a process in a
    // cgroup with one is a sandbox, not a zygote or a parked child. "rare" has its own.
    private const long SandboxMemory = 80L << 20;
    private const long RareMemory = 88L << 20;
    private static readonly string[] Loaded = ["hello", "numeric", "snooze", "count"];

    // What docs/api.md documents for a call, besides 200. Never "internal".
    private static readonly HashSet<string> Documented = ["sandbox_died", "start_failed", "out_of_memory", "protocol_error", "queue_full", "memory_budget", "timeout"];

    private readonly Thaw.Resources.ThawNaming _naming = TestInstance.NewNaming("thawc");
    private readonly ServeProcesses _serve;

    public ChaosTests() => _serve = new ServeProcesses(_naming);

    private sealed record Call(string Function, long Started, long Ended, HttpStatusCode? Status, string Body, Exception? Error);

    [Fact]
    public async Task Calls_survive_killed_sandboxes_and_zygotes_and_nothing_outlives_a_killed_thawd()
    {
        var (serve, url) = await _serve.StartAsync("--freeze-after", "200ms");
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
        string memory = $"memory = \"{SandboxMemory >> 20}M\"\n";
        await DeployAsync(http, "hello", memory, ("f.py", "def f(event):\n    return 'hi'\n"));
        await DeployAsync(http, "numeric", memory, ("f.py", "import numpy\ndef f(event):\n    return int(numpy.arange(4).sum())\n"));
        await DeployAsync(http, "snooze", memory, ("f.py", "import time\ndef f(event):\n    time.sleep(0.02)\n    return 'rested'\n"));
        // Called once, then left idle: its sandbox freezes, to be killed frozen.
        await DeployAsync(http, "rare", $"memory = \"{RareMemory >> 20}M\"\n", ("f.py", "def f(event):\n    return 'seldom'\n"));
        await DeployAsync(http, "count", "runtime = \"exec\"\ncommand = [\"wc\", \"-c\"]\n");
        using (var first = await http.PostAsync("v1/functions/rare/invoke", Json("{}")))
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);

        var calls = new System.Collections.Concurrent.ConcurrentBag<Call>();
        using var stop = new CancellationTokenSource();
        var clients = Enumerable.Range(0, 4).Select(i => Task.Run(() => LoadAsync(http, i, calls, stop.Token))).ToList();

        await Task.Delay(500);
        Kill(await FindAsync(WarmSandboxes, "a warm sandbox"));
        await Task.Delay(500);
        int frozen = await FindAsync(FrozenSandboxes, "a frozen sandbox");
        Kill(frozen);
        // Its function's next call must not see that: it goes to a new sandbox.
        using (var rare = await http.PostAsync("v1/functions/rare/invoke", Json("{}")))
            Assert.True(rare.StatusCode == HttpStatusCode.OK, $"the frozen sandbox's function: {(int)rare.StatusCode} {await rare.Content.ReadAsStringAsync()}");
        Kill(await FindAsync(() => ChildZygotes(serve.Id), "a child zygote"));
        await Task.Delay(500);
        Kill(await FindAsync(() => [.. _serve.Zygotes().Where(z => ServeProcesses.Parent(z) == serve.Id)], "the root zygote"));
        await Task.Delay(1000);

        // thawd itself: no new calls from here; the ones in flight may go unanswered.
        await stop.CancelAsync();
        long killedAt = Stopwatch.GetTimestamp();
        serve.Kill();
        await serve.WaitForExitAsync();
        // Generous: a zygote notices its parent is gone at once, but under emulation and load it may run seconds before it exits.
        var left = await _serve.LeftAfterAsync(TimeSpan.FromSeconds(30));
        Assert.True(left.Count == 0, $"30 s after thawd's SIGKILL, processes of its instance live on: {string.Join(", ", left.Select(ServeProcesses.Describe))}");
        await Task.WhenAll(clients);

        var all = calls.ToList();
        Assert.True(all.Count(c => c.Status == HttpStatusCode.OK) >= 20, $"only {all.Count(c => c.Status == HttpStatusCode.OK)} of {all.Count} calls served");
        var lost = all.Where(c => c.Error is not null && c.Ended < killedAt).ToList();
        Assert.True(lost.Count == 0, $"calls without a reply before thawd was killed: {string.Join("; ", lost.Select(c => $"{c.Function}: {c.Error!.Message}").Distinct())}");
        var undocumented = all.Where(c => c.Status is { } s && s != HttpStatusCode.OK && !Documented.Contains(CodeOf(c.Body))).ToList();
        Assert.True(undocumented.Count == 0, $"calls answered otherwise than 200 or a documented error: {string.Join("; ", undocumented.Select(c => $"{c.Function}: {(int)c.Status!} {c.Body}").Distinct())}");

        // Restarted, it has every function and serves each.
        var (again, url2) = await _serve.StartAsync();
        using (var http2 = new HttpClient { BaseAddress = new Uri(url2), Timeout = TimeSpan.FromSeconds(60) })
        {
            var listed = JsonNode.Parse(await http2.GetStringAsync("v1/functions"))!["functions"]!.AsArray().Select(f => f!["name"]!.GetValue<string>()).Order().ToList();
            Assert.Equal(["count", "hello", "numeric", "rare", "snooze"], listed);
            foreach (var name in listed)
                using (var reply = await http2.PostAsync($"v1/functions/{name}/invoke", Json("{}")))
                    Assert.True(reply.StatusCode == HttpStatusCode.OK, $"{name} after the restart: {(int)reply.StatusCode} {await reply.Content.ReadAsStringAsync()}");
        }

        // A clean stop leaves no process, cgroup, mount, namespace or link.
        Assert.True(Signals.Terminate(again.Id));
        await again.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, again.ExitCode);
        Assert.Empty(_serve.InstanceProcesses());
        Assert.DoesNotContain(CgroupHierarchy.Detect().MountPaths, m => Directory.Exists(Path.Combine(m, _naming.Name)));
        Assert.Empty(LeakCensus.MountsUnder(_naming.StateDir));
        Assert.Empty(LeakCensus.LinksStartingWith(_naming.Name));
    }

    /// <summary>One client: calls a random loaded function after another until stopped, recording each outcome.</summary>
    private static async Task LoadAsync(HttpClient http, int seed, System.Collections.Concurrent.ConcurrentBag<Call> calls, CancellationToken stop)
    {
        var random = new Random(seed);
        while (!stop.IsCancellationRequested)
        {
            string function = Loaded[random.Next(Loaded.Length)];
            long started = Stopwatch.GetTimestamp();
            try
            {
                // Not the stop token: a call in flight is not abandoned, it is answered or cut by thawd's death.
                using var reply = await http.PostAsync($"v1/functions/{function}/invoke", Json("""{"n": 1}"""), CancellationToken.None);
                calls.Add(new Call(function, started, Stopwatch.GetTimestamp(), reply.StatusCode, await reply.Content.ReadAsStringAsync(CancellationToken.None), null));
            }
            catch (HttpRequestException e)
            {
                calls.Add(new Call(function, started, Stopwatch.GetTimestamp(), null, "", e));
            }
        }
    }

    private static string CodeOf(string body)
    {
        try { return JsonDocument.Parse(body).RootElement.GetProperty("code").GetString() ?? ""; }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException) { return ""; }
    }

    /// <summary>Processes of the loaded functions' sandboxes that are running, not frozen.</summary>
    private List<int> WarmSandboxes() => [.. SandboxCgroups(SandboxMemory).Where(c => !c.Frozen).SelectMany(c => c.Pids)];

    /// <summary>Processes of frozen sandboxes ("rare"'s is, once idle for the freezer's delay).</summary>
    private List<int> FrozenSandboxes() => [.. SandboxCgroups(RareMemory).Concat(SandboxCgroups(SandboxMemory)).Where(c => c.Frozen).SelectMany(c => c.Pids)];

    /// <summary>The instance's sandbox cgroups with that memory limit: their processes, and whether the freezer holds them.</summary>
    private List<(IReadOnlyList<int> Pids, bool Frozen)> SandboxCgroups(long memory)
    {
        var found = new List<(IReadOnlyList<int>, bool)>();
        var mounts = CgroupHierarchy.Detect().MountPaths;
        foreach (var dir in mounts.Select(m => Path.Combine(m, _naming.Name)).Where(Directory.Exists).SelectMany(d => Directory.EnumerateDirectories(d, "sb-*")))
        {
            string cgroup = Path.GetFileName(dir);
            if (Read(mounts, cgroup, "memory.limit_in_bytes", "memory.max") != memory.ToString(CultureInfo.InvariantCulture))
                continue;
            var pids = ServeProcesses.ReadPids(Path.Combine(dir, "cgroup.procs"));
            if (pids.Count == 0 || found.Any(f => f.Item1.SequenceEqual(pids)))
                continue;
            bool frozen = Read(mounts, cgroup, "freezer.state") == "FROZEN" || Read(mounts, cgroup, "cgroup.freeze") == "1";
            found.Add((pids, frozen));
        }
        return found;
    }

    /// <summary>The first of <paramref name="files"/> that the instance's cgroup has in any hierarchy, trimmed; null if none.</summary>
    private string? Read(IReadOnlyList<string> mounts, string cgroup, params string[] files)
    {
        foreach (var mount in mounts)
            foreach (var file in files)
            {
                string path = Path.Combine(mount, _naming.Name, cgroup, file);
                try
                {
                    if (File.Exists(path))
                        return File.ReadAllText(path).Trim();
                }
                catch (IOException) { }
            }
        return null;
    }

    /// <summary>Zygotes forked from a zygote (the import cache's), not sandboxes: those live in a pid namespace of their own.</summary>
    private List<int> ChildZygotes(int thawd)
    {
        var zygotes = _serve.Zygotes();
        return [.. zygotes.Where(z => ServeProcesses.Parent(z) != thawd && zygotes.Contains(ServeProcesses.Parent(z)) && !InOwnPidNamespace(z))];
    }

    private static bool InOwnPidNamespace(int pid)
    {
        try { return File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("NSpid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries).Length > 2; }
        catch (IOException) { return false; }
    }

    private static async Task<int> FindAsync(Func<List<int>> candidates, string what)
    {
        for (var waited = Stopwatch.StartNew(); waited.Elapsed < TimeSpan.FromSeconds(10); await Task.Delay(20))
            if (candidates() is [var first, ..])
                return first;
        throw new Xunit.Sdk.XunitException($"no {what} to kill within 10 s");
    }

    private static void Kill(int pid)
    {
        try { Process.GetProcessById(pid).Kill(); }
        catch (ArgumentException) { } // gone meanwhile: the fault happened by itself
    }

    private async Task DeployAsync(HttpClient http, string name, string toml, params (string Name, string Text)[] files)
    {
        string dir = _serve.FunctionDir($"name = \"{name}\"\n" + toml, files);
        using var deployed = await http.PutAsync($"v1/functions/{name}", new ByteArrayContent(ThawdInstance.TarGz(dir)));
        Assert.True(deployed.IsSuccessStatusCode, $"deploy of {name}: {await deployed.Content.ReadAsStringAsync()}");
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public void Dispose() => _serve.Dispose();
}
