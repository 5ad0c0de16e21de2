using System.Globalization;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Thaw.Cli.Bench.Python;
using Thaw.Cli.Client;
using Thaw.Runtimes.Functions;
using Thaw.Service;

namespace Thaw.Cli.Bench.Bursts;

internal sealed record BurstBenchOptions(
    IReadOnlyList<int> Concurrency,
    IReadOnlyList<string> Cases,
    int Bursts,
    TimeSpan Idle,
    int SustainedClients,
    TimeSpan SustainedDuration,
    bool Peer,
    string StateDir)
{
    /// <summary>The bench's thawd instance name (cgroups, links and mounts carry it).</summary>
    public string InstanceName { get; init; } = "thawbb";

    /// <summary>Cold bursts until .NET's background JIT is idle, before anything is measured (<see cref="JitWarmUp"/>).</summary>
    public bool WarmUp { get; init; } = true;
}

/// <summary>
/// `thaw bench burst`: Python cold starts under concurrency, end to end over loopback HTTP against a
/// real thawd, beside a fresh python3 per call in runc at the same concurrency. For each N, N calls
/// are released at once after an idle pause, several times; Thaw's and the peer's bursts alternate,
/// so the shared machine's drifting load falls on both alike. Cases: <see cref="BurstCases"/>.
/// </summary>
internal sealed class BurstBench(BurstBenchOptions options, IAnsiConsole console)
{
    private readonly string _dir = Path.Combine(options.StateDir, "bench-burst");
    private readonly List<BurstResult> _rows = [];
    private readonly List<string> _notes = [];

    public async Task<BurstReport> RunAsync(CancellationToken token)
    {
        var started = DateTime.UtcNow;
        using var loggers = CliLogging.Create(LogLevel.Warning);
        var thawdOptions = new ThawdOptions { Listen = "127.0.0.1:0" };
        thawdOptions.Resources.Name = options.InstanceName;
        thawdOptions.Resources.StateDir = Path.Combine(_dir, "thawd");
        // As deep as the largest burst plus the zygotes' and their parked children's, as `thaw bench
        // startup` sizes them: a burst claims from full pools (a miss would be counted, not hidden).
        int pool = Math.Max(options.Concurrency.Max(), options.SustainedClients) + 16;
        thawdOptions.Resources.Netns.Size = thawdOptions.Resources.Cgroups.Size = thawdOptions.Resources.Roots.Size = pool;
        var thawd = await console.Status().StartAsync("starting thawd (pools, zygote)...", _ => Thawd.StartAsync(thawdOptions, loggers));
        try
        {
            // What an interrupted run left, deleted once thawd holds the instance (a second run in the
            // same state dir stops at its lock instead): thawd swept its own state dir (mounts
            // included); the functions' copies and the peer's bundles are plain files.
            foreach (var leftover in new[] { "functions", "runc" }.Select(d => Path.Combine(_dir, d)).Where(Directory.Exists))
                Directory.Delete(leftover, recursive: true);
            // Everything below blocks (bursts are threads released together), so it runs on a thread
            // of its own: thaw runs socket continuations inline on the epoll thread
            // (DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS), and code resumed after an await of a
            // socket could be on it: blocking there would stop thawd's own sockets in this process.
            await Task.Factory.StartNew(() => Measure(thawd, thawdOptions, pool, token), token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        finally
        {
            await thawd.DisposeAsync();
            // Its registry and code: a bench leaves no functions behind (thawd removed every mount under it).
            if (Thaw.Linux.Mounts.MountTable.Read().MountPointsUnder(_dir).Count == 0)
                Directory.Delete(_dir, recursive: true);
        }
        var rows = BurstRows.WithRatios(_rows);
        var settings = new BurstSettings(options.Concurrency, options.Bursts, options.Idle.TotalMilliseconds, options.SustainedClients,
            options.SustainedDuration.TotalSeconds, options.Peer ? BurstSystems.RuncPython : "none", pool, thawdOptions.HandlerCache.MemoryBudgetBytes);
        return new BurstReport(rows, BurstTargets.Evaluate(rows), _notes, settings, Environment.MachineName, started);
    }

    /// <summary>Deploys, warms up and runs every case against the started thawd (and the peer); blocks throughout.</summary>
    private void Measure(Thawd thawd, ThawdOptions thawdOptions, int pool, CancellationToken token)
    {
        var functions = new BurstFunctions(Path.Combine(_dir, "functions"), options.Concurrency.Max(), options.SustainedClients);
        _notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"thawd's pools {pool} deep; memory budget {thawdOptions.HandlerCache.MemoryBudgetBytes >> 20} MiB (the default: half the machine's memory); "
            + $"image-resize {FunctionManifest.Load(functions.Image).MemoryBytes >> 20} MiB, hello {FunctionManifest.Load(functions.Hello).MemoryBytes >> 20} MiB per sandbox"));
        RuncPython? peer = null;
        if (options.Peer)
            peer = new RuncPython(Path.Combine(_dir, "runc"), [functions.ImagePeer, functions.HelloPeer], packages: null, Say,
                slots: Math.Max(options.Concurrency.Max(), options.SustainedClients));
        else
            _notes.Add("runc-python skipped (--baseline none)");
        using var client = new ThawClient(thawd.Url.ToString(), TimeSpan.FromSeconds(120));
        using var invoker = new InvokeClient(thawd.Url);
        try
        {
            console.Status().Start("deploying image-resize and hello (keep_alive = 0s)...", _ =>
            {
                Deploy(client, functions.Image, null, token);
                Deploy(client, functions.ColdHelloDir, BurstFunctions.ColdHello, token);
            });
            if (options.WarmUp)
                console.Status().Start("warming up thawd's cold path (until .NET's background JIT is idle)...", _ => JitWarmUp.UntilIdle(() =>
                {
                    Thread.Sleep(100);
                    Load.Burst(10, _ => invoker.Invoke(BurstFunctions.ColdHello, BurstFunctions.HelloEvent));
                    Load.Burst(10, _ => invoker.Invoke(BurstFunctions.ImageResize, BurstFunctions.ImageEvent));
                }, minRounds: 3));

            var runs = new BurstRuns(options, console);
            if (options.Cases.Contains(BurstCases.ImageResize))
                _rows.AddRange(runs.Bursts(BurstCases.ImageResize,
                    _ => new BurstRuns.Prepared(_ => invoker.Invoke(BurstFunctions.ImageResize, BurstFunctions.ImageEvent)),
                    peer is null ? null : i => PeerCall(peer, functions.ImagePeer, i), token));
            if (options.Cases.Contains(BurstCases.DistinctHello))
                _rows.AddRange(runs.Bursts(BurstCases.DistinctHello,
                    n => DistinctHellos(client, invoker, functions.Hello, n, token),
                    peer is null ? null : i => PeerCall(peer, functions.HelloPeer, i), token));
            if (options.Cases.Contains(BurstCases.SustainedHello))
                _rows.AddRange(runs.Sustained(BurstCases.SustainedHello,
                    _ => invoker.Invoke(BurstFunctions.ColdHello, BurstFunctions.HelloEvent),
                    peer is null ? null : c => PeerCall(peer, functions.HelloPeer, c), token));
        }
        finally
        {
            peer?.Dispose();
        }
    }

    /// <summary>
    /// Deploys <paramref name="n"/> hello functions under new names (deploying proves the handler
    /// loads in a sandbox that is not kept), and returns the burst's call, one function per call,
    /// and the removal that follows the burst (their warm sandboxes would otherwise fill the node).
    /// </summary>
    private static BurstRuns.Prepared DistinctHellos(ThawClient client, InvokeClient invoker, string hello, int n, CancellationToken token)
    {
        string prefix = "hello-" + Guid.NewGuid().ToString("N")[..8] + "-";
        var names = Enumerable.Range(0, n).Select(i => prefix + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        foreach (var name in names)
            Deploy(client, hello, name, token);
        return new BurstRuns.Prepared(
            i => invoker.Invoke(names[i], BurstFunctions.HelloEvent),
            () =>
            {
                foreach (var name in names)
                    client.RemoveAsync(name, token).GetAwaiter().GetResult();
            });
    }

    private static CallOutcome PeerCall(RuncPython peer, BenchFunction function, int slot)
    {
        peer.ColdStart(function, slot);
        return new CallOutcome(200, Cold: true, HandlerMs: null, Error: null);
    }

    private static void Deploy(ThawClient client, string dir, string? name, CancellationToken token)
    {
        var packed = FunctionPacker.Pack(dir, name);
        client.DeployAsync(packed.Name, packed.Archive, token: token).GetAwaiter().GetResult();
    }

    private void Say(string message) => console.MarkupLine($"[grey]{Markup.Escape(message)}[/]");
}
