using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace Thaw.Cli.Bench.Soak;

/// <summary>The soak's table over time, its summary against the targets, and its JSON.</summary>
internal static class SoakReportWriter
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static void Print(SoakReport report, IAnsiConsole console)
    {
        var table = new Table().Title("over time: calls that ended in each window; thawd's RSS, descriptors and threads as it closed")
            .AddColumns("s", "calls", "cold", "p50 ms", "p99 ms", "not 200", "RSS MiB", "fds", "threads");
        foreach (var w in report.Windows)
            table.AddRow(F(w.AtSeconds), I(w.Calls), I(w.Cold), F(w.P50Ms), F(w.P99Ms), I(w.Failed), I((int)(w.RssBytes >> 20)), I(w.Fds), I(w.Threads));
        console.Write(table);
        console.MarkupLine(Markup.Escape($"{report.Calls} calls in {report.Seconds:0} s, {report.Lifecycles} sandbox lifecycles (cold starts); replies by status: "
            + string.Join(", ", report.Statuses.Select(s => $"{s.Key} {s.Value}"))));
        console.MarkupLine(Markup.Escape("faults injected (SIGKILL): " + (report.Faults.Count == 0 ? "none" : string.Join(", ", report.Faults.Select(f => $"{f.Key} {f.Value}")))));
        double drift = report.FirstMinuteP99Ms > 0 ? report.LastMinuteP99Ms / report.FirstMinuteP99Ms : double.NaN;
        console.MarkupLine(Markup.Escape($"p99 first minute {report.FirstMinuteP99Ms:0.#} ms, last minute {report.LastMinuteP99Ms:0.#} ms (drift {drift:0.00}×)"));
        if (report.Windows.Count > 1)
        {
            var first = report.Windows[0];
            var last = report.Windows[^1];
            console.MarkupLine(Markup.Escape($"thawd RSS {first.RssBytes >> 20} → {last.RssBytes >> 20} MiB (max {report.Windows.Max(w => w.RssBytes) >> 20}), descriptors {first.Fds} → {last.Fds} (max {report.Windows.Max(w => w.Fds)})"));
        }
        console.MarkupLine(report.Unexpected.Count == 0
            ? "[green]every reply was 200 or a documented error[/] (429, 502, 503, 504: a call whose sandbox or zygote was killed under it; 500 handler_error: an exec program killed by a signal)"
            : "[red]replies Thaw must never give (500 internal, or none at all):[/] " + Markup.Escape(string.Join("; ", report.Unexpected)));
        console.MarkupLine(report.LeftBehind.Count == 0
            ? "[green]after SIGTERM nothing of the instance is left[/] (no mount, cgroup, link or process)"
            : "[red]left behind:[/] " + Markup.Escape(string.Join(", ", report.LeftBehind.Take(20))));
        console.MarkupLine(Markup.Escape($"targets: ≥ 10,000 lifecycles {(report.Lifecycles >= 10_000 ? "met" : "not met")} ({report.Lifecycles}); "
            + $"0 leaked objects {(report.LeftBehind.Count == 0 ? "met" : "not met")} ({report.LeftBehind.Count})"));
    }

    public static void WriteJson(SoakReport report, string path) => File.WriteAllText(path, JsonSerializer.Serialize(report, Json));

    private static string F(double v) => v.ToString(v < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture);

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
}
