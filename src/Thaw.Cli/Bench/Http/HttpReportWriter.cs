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

    public static void WriteJson(HttpBenchReport report, string path) =>
        File.WriteAllText(path, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));

    // Floor latencies are tens of µs: three decimals keep them readable in ms.
    private static string F(double v) => v.ToString(v < 1 ? "0.000" : v < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture);
}
