using System.Text.Json.Nodes;
using Spectre.Console;
using Thaw.Cli.Bench.Bursts;
using Thaw.Linux.Cgroups;
using Thaw.Tests.Support;

namespace Thaw.Tests.Cli.Bench;

/// <summary>
/// `thaw bench burst` for real at tiny sizes: a real thawd, real cold starts over HTTP (and runc,
/// when installed). These check the report's shape and that every call succeeded cold, never timings.
/// </summary>
public sealed class BurstBenchTests
{
    [Fact]
    public async Task A_tiny_run_reports_every_case_and_every_call_was_a_cold_200()
    {
        var (report, json) = await RunAsync(BurstCases.All, peer: false);

        foreach (var caseName in new[] { BurstCases.ImageResize, BurstCases.DistinctHello })
            foreach (int n in new[] { 1, 2 })
            {
                var row = Assert.Single(report.Results, r => r.Case == caseName && r.Concurrency == n);
                AssertBurstRow(row, BurstSystems.Thaw, n);
                Assert.Null(row.PeerRatio);
            }
        Assert.NotNull(Assert.Single(report.Results, r => r.Case == BurstCases.ImageResize && r.Concurrency == 1).HandlerP50Ms);

        var sustained = Assert.Single(report.Results, r => r.Case == BurstCases.SustainedHello);
        AssertSustainedRow(sustained, BurstSystems.Thaw);

        Assert.Equal(BurstTargets.All.Count, report.Targets.Count);
        // Their concurrencies (20, 50, 16 clients) were not run at this size.
        Assert.All(report.Targets, t => Assert.Equal(TargetOutcome.NotMeasured, t.Outcome));
        Assert.Contains(report.Notes, n => n.Contains("runc-python skipped", StringComparison.Ordinal));

        var rows = json["results"]!.AsArray();
        Assert.Equal(report.Results.Count, rows.Count);
        foreach (var key in new[] { "case", "system", "concurrency", "calls", "non_200", "not_cold", "statuses", "p50_ms", "p99_ms", "wall_ms", "flatness", "peer_ratio", "starts_per_second" })
            Assert.All(rows, r => Assert.True(r!.AsObject().ContainsKey(key), $"a result row has no \"{key}\": {r!.ToJsonString()}"));
        Assert.Equal("not_measured", json["targets"]![0]!["outcome"]!.GetValue<string>());
        Assert.Equal(1, json["settings"]!["bursts"]!.GetValue<int>());
    }

    [FactNeeding("runc")]
    public async Task The_peer_runs_the_same_handlers_at_the_same_concurrency()
    {
        var (report, _) = await RunAsync([BurstCases.ImageResize, BurstCases.SustainedHello], peer: true);

        foreach (int n in new[] { 1, 2 })
        {
            AssertBurstRow(Assert.Single(report.Results, r => r.Case == BurstCases.ImageResize && r.System == BurstSystems.RuncPython && r.Concurrency == n), BurstSystems.RuncPython, n);
            var thaw = Assert.Single(report.Results, r => r.Case == BurstCases.ImageResize && r.System == BurstSystems.Thaw && r.Concurrency == n);
            AssertBurstRow(thaw, BurstSystems.Thaw, n);
            Assert.True(thaw.PeerRatio > 0, $"peer ratio {thaw.PeerRatio}");
        }
        AssertSustainedRow(Assert.Single(report.Results, r => r.Case == BurstCases.SustainedHello && r.System == BurstSystems.RuncPython), BurstSystems.RuncPython);
        Assert.DoesNotContain(report.Notes, n => n.Contains("skipped", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_interrupted_run_stops_before_its_next_burst_and_leaves_nothing()
    {
        var naming = TestInstance.NewNaming("thawbb");
        // A thousand bursts would take minutes: only the interrupt ends this run in time.
        var options = new BurstBenchOptions([1], [BurstCases.DistinctHello], Bursts: 1000, Idle: TimeSpan.FromMilliseconds(100), SustainedClients: 1,
            SustainedDuration: TimeSpan.FromSeconds(1), Peer: false, StateDir: naming.StateDir)
        {
            InstanceName = naming.Name,
            WarmUp = false,
        };
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null), Interactive = InteractionSupport.No });
        using var interrupt = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            var run = new BurstBench(options, console).RunAsync(interrupt.Token);
            var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(90)));
            Assert.True(finished == run, "the run went on 85 s after the interrupt");
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        }
        finally
        {
            Assert.Empty(LeakCensus.MountsUnder(naming.StateDir));
            Assert.Empty(LeakCensus.LinksStartingWith(naming.Name));
            Assert.DoesNotContain(CgroupHierarchy.Detect().MountPaths, m => Directory.Exists(Path.Combine(m, naming.Name)));
            Assert.Empty(LeakCensus.ZygotesOf(naming.StateDir));
            if (Directory.Exists(naming.StateDir))
                Directory.Delete(naming.StateDir, recursive: true);
        }
    }

    private static void AssertBurstRow(BurstResult row, string system, int n)
    {
        string what = $"{row.Case} {row.System} N={n}: {string.Join("; ", row.Errors)}";
        Assert.Equal(system, row.System);
        Assert.Equal(1, row.Bursts);
        Assert.Equal(n, row.Calls);
        Assert.True(row.Non200 == 0, $"{what}: {row.Non200} calls not 200");
        Assert.True(row.NotCold == 0, $"{what}: {row.NotCold} calls served warm");
        Assert.Equal(n, row.Statuses["200"]);
        Assert.True(row.P50Ms > 0 && row.P99Ms >= row.P50Ms, what);
        Assert.True(row.WallMs > 0, what);
        Assert.Single(row.WallsMs!);
        Assert.NotNull(row.Flatness);
        if (n == 1)
            Assert.Equal(1.0, row.Flatness);
    }

    private static void AssertSustainedRow(BurstResult row, string system)
    {
        string what = $"{row.Case} {row.System}: {string.Join("; ", row.Errors)}";
        Assert.Equal(system, row.System);
        Assert.Equal(2, row.Concurrency);
        Assert.True(row.Calls > 0, what);
        Assert.True(row.Non200 == 0, $"{what}: {row.Non200} calls not 200");
        Assert.True(row.NotCold == 0, $"{what}: {row.NotCold} calls served warm");
        Assert.True(row.DurationSeconds >= 2, what);
        Assert.True(row.StartsPerSecond > 0, what);
        Assert.Null(row.WallMs);
        Assert.Null(row.Flatness);
    }

    /// <summary>N = 1 and 2, one burst each, 2 clients for 2 s; its own instance; nothing left behind.</summary>
    private static async Task<(BurstReport Report, JsonNode Json)> RunAsync(IReadOnlyList<string> cases, bool peer)
    {
        var naming = TestInstance.NewNaming("thawbb");
        var options = new BurstBenchOptions([1, 2], cases, Bursts: 1, Idle: TimeSpan.FromMilliseconds(200), SustainedClients: 2,
            SustainedDuration: TimeSpan.FromSeconds(2), Peer: peer, StateDir: naming.StateDir)
        {
            InstanceName = naming.Name,
            WarmUp = false,
        };
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Interactive = InteractionSupport.No });
        try
        {
            var report = await new BurstBench(options, console).RunAsync(CancellationToken.None);
            BurstReportWriter.Print(report, console);
            Assert.Contains("Targets", output.ToString(), StringComparison.Ordinal);
            string file = Path.Combine(naming.StateDir, "burst.json");
            BurstReportWriter.WriteJson(report, file);
            return (report, JsonNode.Parse(File.ReadAllText(file))!);
        }
        finally
        {
            Assert.Empty(LeakCensus.MountsUnder(naming.StateDir));
            Assert.Empty(LeakCensus.LinksStartingWith(naming.Name));
            Assert.DoesNotContain(CgroupHierarchy.Detect().MountPaths, m => Directory.Exists(Path.Combine(m, naming.Name)));
            if (Directory.Exists(naming.StateDir))
                Directory.Delete(naming.StateDir, recursive: true);
        }
    }
}
