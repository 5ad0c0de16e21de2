using System.Net;
using System.Text;
using Thaw.Linux.Cgroups;
using Thaw.Linux.Processes;
using Thaw.Tests.Service;
using Thaw.Tests.Support;

namespace Thaw.Tests.Cli;

/// <summary>
/// `thaw serve` as an operator runs it: a process that says where it listens, stops cleanly on
/// SIGTERM, and — killed outright — leaves what the next start sweeps, with its functions kept.
/// </summary>
public sealed class ServeCommandTests : IDisposable
{
    private readonly Thaw.Resources.ThawNaming _naming = TestInstance.NewNaming("thawr");
    private readonly ServeProcesses _serve;

    public ServeCommandTests() => _serve = new ServeProcesses(_naming);

    [Fact]
    public async Task Sigterm_stops_it_cleanly_and_after_a_crash_the_next_start_sweeps_and_keeps_the_functions()
    {
        var (serve, url) = await _serve.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
        string dir = _serve.FunctionDir("name = \"kept\"\n", ("f.py", "def f(event):\n    return 'kept'\n"));
        using (var deployed = await http.PutAsync("v1/functions/kept", new ByteArrayContent(ThawdInstance.TarGz(dir))))
            Assert.Equal(HttpStatusCode.Created, deployed.StatusCode);
        using (var call = await http.PostAsync("v1/functions/kept/invoke", new StringContent("{}", Encoding.UTF8)))
            Assert.Equal("\"kept\"", await call.Content.ReadAsStringAsync());

        // No descriptor leaks per call, deploy or removal: thawd's fd count comes back (a leak of one
        // per call or per sandbox would show as dozens). The first round loads assemblies (tar, zip).
        int fdsBefore = 0;
        for (int round = 0; round < 4; round++)
        {
            using (var deployed = await http.PutAsync("v1/functions/passing", new ByteArrayContent(PassingArchive())))
                Assert.True(deployed.IsSuccessStatusCode, await deployed.Content.ReadAsStringAsync());
            for (int i = 0; i < 10; i++)
                using (var call = await http.PostAsync("v1/functions/passing/invoke", new StringContent("{}", Encoding.UTF8)))
                    Assert.Equal(HttpStatusCode.OK, call.StatusCode);
            using (var removed = await http.DeleteAsync("v1/functions/passing"))
                Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
            if (round == 0)
                fdsBefore = await UnpooledFdsAsync(http, serve.Id);
        }
        int fdsNow = 0;
        await Wait.UntilAsync(() => (fdsNow = UnpooledFdsAsync(http, serve.Id).GetAwaiter().GetResult()) <= fdsBefore + 2, TimeSpan.FromSeconds(10),
            $"thawd's fds (less what its pools hold) back near {fdsBefore} (now {fdsNow})");

        // Crash: SIGKILL leaves the zygote, a warm sandbox, mounts and cgroups behind.
        serve.Kill();
        await serve.WaitForExitAsync();
        Assert.NotEmpty(LeakCensus.MountsUnder(_naming.StateDir));

        var (again, url2) = await _serve.StartAsync();
        using var http2 = new HttpClient { BaseAddress = new Uri(url2), Timeout = TimeSpan.FromSeconds(60) };
        using (var call = await http2.PostAsync("v1/functions/kept/invoke", new StringContent("{}", Encoding.UTF8)))
        {
            Assert.Equal(HttpStatusCode.OK, call.StatusCode);
            Assert.Equal("cold", call.Headers.GetValues("X-Thaw-Start").Single());
        }
        // Only the new thawd's zygote (and what it forked) runs: the crashed one's went with its cgroups.
        var zygotes = _serve.Zygotes();
        Assert.NotEmpty(zygotes);
        Assert.All(zygotes, pid => Assert.True(ServeProcesses.Parent(pid) == again.Id || zygotes.Contains(ServeProcesses.Parent(pid)), $"zygote process {pid} is not the new thawd's"));

        Assert.True(Signals.Terminate(again.Id));
        await again.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, again.ExitCode);
        Assert.Empty(LeakCensus.MountsUnder(_naming.StateDir));
        Assert.Empty(_serve.Zygotes());
        Assert.DoesNotContain(CgroupHierarchy.Detect().MountPaths, m => Directory.Exists(Path.Combine(m, _naming.Name)));
    }

    [Fact]
    public async Task Killed_outright_it_leaves_no_process_behind_frozen_sandboxes_and_child_zygotes_included()
    {
        var (serve, url) = await _serve.StartAsync("--freeze-after", "100ms");
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
        // numeric imports numpy: its deploy builds a child zygote that its sandboxes fork from.
        foreach (var (name, code) in new[] { ("hello", "def f(event):\n    return 'hi'\n"), ("numeric", "import numpy\ndef f(event):\n    return int(numpy.arange(4).sum())\n") })
        {
            string dir = _serve.FunctionDir($"name = \"{name}\"\n", ("f.py", code));
            using (var deployed = await http.PutAsync($"v1/functions/{name}", new ByteArrayContent(ThawdInstance.TarGz(dir))))
                Assert.True(deployed.IsSuccessStatusCode, await deployed.Content.ReadAsStringAsync());
            using (var call = await http.PostAsync($"v1/functions/{name}/invoke", new StringContent("{}", Encoding.UTF8)))
                Assert.Equal(HttpStatusCode.OK, call.StatusCode);
        }
        await Wait.UntilAsync(async () => System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync("v1/stats"))!["functions"]!.AsArray()
            .Sum(f => f!["frozen"]!.GetValue<int>()), frozen => frozen == 2, TimeSpan.FromSeconds(20));
        Assert.True(_serve.Zygotes().Count >= 2, "the root zygote and numeric's child zygote");
        Assert.NotEmpty(_serve.InstanceProcesses());

        serve.Kill(); // SIGKILL: thawd's own cleanup never runs; its zygotes' crash net must
        await serve.WaitForExitAsync();
        var left = await _serve.LeftAfterAsync(TimeSpan.FromSeconds(2));
        Assert.True(left.Count == 0, $"2 s after thawd's SIGKILL, processes of its instance live on: {string.Join(", ", left.Select(ServeProcesses.Describe))}");

        // The next start sweeps the cgroups, mounts and namespaces the crash left; a clean stop then leaves nothing.
        var (again, _) = await _serve.StartAsync();
        Assert.True(Signals.Terminate(again.Id));
        await again.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Empty(LeakCensus.MountsUnder(_naming.StateDir));
        Assert.DoesNotContain(CgroupHierarchy.Detect().MountPaths, m => Directory.Exists(Path.Combine(m, _naming.Name)));
    }

    /// <summary>
    /// thawd's open fds less those its pools hold for their resources' life (each pooled cgroup its
    /// cgroup.procs files, each pooled netns its fd and a netlink socket), whose count the pools'
    /// refills move by four or two at a time: what is left must not grow with calls.
    /// </summary>
    private static async Task<int> UnpooledFdsAsync(HttpClient http, int pid)
    {
        int hierarchies = Thaw.Resources.Cgroups.CgroupLayout.From(CgroupHierarchy.Detect()).Hierarchies.Count;
        // The pools and the parked children move while thawd settles: count its fds between two
        // identical stats, or the census subtracts objects it did not count (or the other way).
        int fds;
        System.Text.Json.Nodes.JsonNode stats;
        for (int attempt = 0; ; attempt++)
        {
            string before = Census(await http.GetStringAsync("v1/stats"));
            fds = Directory.GetFiles($"/proc/{pid}/fd").Length;
            string now = await http.GetStringAsync("v1/stats");
            stats = System.Text.Json.Nodes.JsonNode.Parse(now)!;
            if (Census(now) == before || attempt == 20)
                break;
            await Task.Delay(50);
        }
        foreach (var pool in stats["pools"]!.AsArray())
        {
            string name = pool!["name"]!.GetValue<string>();
            int held = pool["live"]!.GetValue<int>(); // idle, lent and waiting to be recycled
            fds -= name.StartsWith("cgroup", StringComparison.Ordinal) ? held * hierarchies : name.StartsWith("netns", StringComparison.Ordinal) ? held * 2 : 0;
        }
        // Each parked child's socket: how many the zygotes keep follows demand.
        var zygotes = stats["zygotes"]!;
        fds -= zygotes["parked"]!.GetValue<int>();
        foreach (var node in zygotes["nodes"]!.AsArray())
        {
            fds -= node!["parked"]!.GetValue<int>();
        }
        return fds;
    }

    /// <summary>What of a stats reply holds thawd's descriptors: each pool's live count, each zygote's parked children.</summary>
    private static string Census(string stats)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(stats)!;
        var zygotes = node["zygotes"]!;
        return string.Join(',', node["pools"]!.AsArray().Select(p => p!["live"]!.ToJsonString())
            .Append(zygotes["parked"]!.ToJsonString())
            .Concat(zygotes["nodes"]!.AsArray().Select(n => n!["parked"]!.ToJsonString())));
    }

    private byte[] PassingArchive()
    {
        return ThawdInstance.TarGz(_serve.FunctionDir("name = \"passing\"\nkeep_alive = \"0s\"\n", ("f.py", "def f(event):\n    return 1\n")));
    }

    public void Dispose() => _serve.Dispose();
}
