using Spectre.Console;

namespace Thaw.Cli.Bench.Http;

/// <summary>`thaw bench floor`: wrk against <see cref="FloorServer"/> at each client count.</summary>
internal static class FloorBench
{
    /// <summary>The body every HTTP bench posts: a small JSON event, as a noop function gets.</summary>
    public const string Body = """{"name":"thaw"}""";

    public static async Task<HttpBenchReport> RunAsync(IReadOnlyList<int> clients, TimeSpan duration, IAnsiConsole console, CancellationToken cancellationToken = default)
    {
        PeerCommands.Require("wrk", "wrk", message => console.MarkupLine($"[grey]{Markup.Escape(message)}[/]"));
        await using var server = await FloorServer.StartAsync();
        var floor = new Uri(server.Url, "floor");
        // One short run first: JIT and tiered compilation of Kestrel's request path, so the
        // first measured row is not the one that paid for it.
        await Wrk.RunAsync(floor, Body, clients.Max(), TimeSpan.FromSeconds(1), cancellationToken);
        var results = new List<HttpBenchResult>();
        foreach (int n in clients)
        {
            var run = await console.Status().StartAsync($"floor: {n} clients for {duration.TotalSeconds:0} s",
                _ => Wrk.RunAsync(floor, Body, n, duration, cancellationToken));
            results.Add(new HttpBenchResult("floor", n, run.P50Ms, run.P99Ms, run.Rps));
        }
        return new HttpBenchReport(results);
    }
}
