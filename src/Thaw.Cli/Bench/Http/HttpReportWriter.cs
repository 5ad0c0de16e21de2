using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace Thaw.Cli.Bench.Http;

/// <summary>The HTTP benches' table and JSON.</summary>
internal static class HttpReportWriter
{
    public static void Print(HttpBenchReport report, IAnsiConsole console)
    {
        var table = new Table().Title("POST → reply over loopback HTTP/1.1 keep-alive (wrk: p50 / p99 per request, throughput)")
            .AddColumns("case", "clients", "p50 ms", "p99 ms", "req/s");
        foreach (var r in report.Results)
            table.AddRow(r.Case, r.Clients.ToString(CultureInfo.InvariantCulture), F(r.P50Ms), F(r.P99Ms), r.Rps.ToString("#,0", CultureInfo.InvariantCulture));
        console.Write(table);
        if (report.Results.Any(r => r.Case == "floor"))
            console.MarkupLine("floor: a bare Kestrel endpoint in the bench's own process that reads the body and answers {} — the least an HTTP invoke costs on this machine.");
    }

    /// <summary>thawd against the floor (warm overhead, throughput ratio) and where the cold calls' time went.</summary>
    public static void PrintComparison(HttpBenchReport report, IReadOnlyList<HttpBench.ColdBreakdown> cold, IAnsiConsole console)
    {
        foreach (var warm in report.Results.Where(r => r.Case == "warm-noop"))
        {
            var floor = report.Results.FirstOrDefault(r => r.Case == "floor" && r.Clients == warm.Clients);
            if (floor is null)
                continue;
            console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
                $"warm, {warm.Clients} clients: thawd overhead over the floor p50 {warm.P50Ms - floor.P50Ms:0.000} ms; throughput {warm.Rps:#,0} req/s = {warm.Rps / floor.Rps:0.00}x the floor's {floor.Rps:#,0}"));
        }
        var table = new Table().Title("cold calls: median per phase (ms, thawd's Server-Timing; end to end measured by the client)")
            .AddColumns("case", "end to end", "claim", "fork", "init", "call", "handler", "thawd total");
        foreach (var c in cold)
            table.AddRow(c.Case, F(c.EndToEndMs), P(c, "claim"), P(c, "fork"), P(c, "init"), P(c, "call"), P(c, "handler"), P(c, "total"));
        console.Write(table);
        console.MarkupLine("claim: netns, cgroup and root from their pools; fork: zygote fork, sandbox entry, runtime ready; init: the handler module's import; call: event to result over the invoke socket (cold-exec: fork is thawd's clone up to the exec, call the program's run to its exit).");
    }

    private static string P(HttpBench.ColdBreakdown c, string phase) => c.Phases.TryGetValue(phase, out double v) ? F(v) : "-";

    public static void WriteJson(HttpBenchReport report, string path) =>
        File.WriteAllText(path, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));

    // Floor latencies are tens of µs: three decimals keep them readable in ms.
    private static string F(double v) => v.ToString(v < 1 ? "0.000" : v < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture);
}
