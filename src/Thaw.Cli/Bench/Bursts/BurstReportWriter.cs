using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace Thaw.Cli.Bench.Bursts;

/// <summary>The burst bench's tables (bursts, sustained load, targets), its JSON and its plot.</summary>
internal static class BurstReportWriter
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static void Print(BurstReport report, IAnsiConsole console)
    {
        var bursts = report.Results.Where(r => r.DurationSeconds is null).ToList();
        if (bursts.Count > 0)
        {
            var table = new Table().Title("N calls at once after idle, request → reply over HTTP (per call, over the 200s; wall: whole burst, median)")
                .AddColumns("case", "system", "N", "p50 ms", "p99 ms", "wall ms", "handler p50", "calls", "non-200", "not cold", "flatness", "peer ÷ thaw");
            foreach (var r in bursts)
                table.AddRow(r.Case, r.System, I(r.Concurrency), F(r.P50Ms), F(r.P99Ms), F(r.WallMs), F(r.HandlerP50Ms), I(r.Calls), I(r.Non200), I(r.NotCold),
                    X(r.Flatness), X(r.PeerRatio));
            console.Write(table);
            console.MarkupLine("flatness: p50 at N ÷ p50 at 1 of the same case and system (1× is flat). peer ÷ thaw: the peer's p50 ÷ Thaw's at the same N. "
                + "handler p50: the handler's own time inside the call (thawd's Server-Timing).");
            // Thaw's flatness beside the peer's, one line per case: the figure the table spreads over rows.
            foreach (var byCase in bursts.GroupBy(r => r.Case))
            {
                var sizes = byCase.Select(r => r.Concurrency).Distinct().Order().ToList();
                var systems = byCase.GroupBy(r => r.System).Select(g =>
                    $"{g.Key} {string.Join(" / ", sizes.Select(n => X(g.FirstOrDefault(r => r.Concurrency == n)?.Flatness) is { Length: > 0 } x ? x : "-"))}");
                console.MarkupLine(Markup.Escape($"{byCase.Key} flatness at N = {string.Join(" / ", sizes.Select(I))}: {string.Join("; ", systems)}"));
            }
        }
        var sustained = report.Results.Where(r => r.DurationSeconds is not null).ToList();
        if (sustained.Count > 0)
        {
            var table = new Table().Title("Sustained cold starts: clients in a closed loop, every call a new sandbox")
                .AddColumns("case", "system", "clients", "seconds", "cold starts/s", "p50 ms", "p99 ms", "calls", "non-200", "not cold", "peer ÷ thaw");
            foreach (var r in sustained)
                table.AddRow(r.Case, r.System, I(r.Concurrency), F(r.DurationSeconds), F(r.StartsPerSecond), F(r.P50Ms), F(r.P99Ms), I(r.Calls), I(r.Non200), I(r.NotCold), X(r.PeerRatio));
            console.Write(table);
        }
        var targets = new Table().Title("Targets (Thaw's rows; met only if every call of the row was a cold 200)")
            .AddColumns("target", "measured", "");
        foreach (var t in report.Targets)
            targets.AddRow(Markup.Escape(t.Target.Text), F(t.Measured), t.Outcome switch
            {
                TargetOutcome.Met => "[green]met[/]",
                TargetOutcome.NotMet => "[red]not met[/]",
                _ => "[grey]not measured[/]",
            });
        console.Write(targets);
        foreach (var note in report.Notes)
            console.MarkupLine($"[yellow]note:[/] {Markup.Escape(note)}");
    }

    public static void WriteJson(BurstReport report, string path) => File.WriteAllText(path, JsonSerializer.Serialize(report, Json));

    /// <summary>p50 per burst size, one line per case and system, log-scaled (PNG or SVG by extension).</summary>
    public static void WritePlot(BurstReport report, string path)
    {
        var rows = report.Results.Where(r => r.DurationSeconds is null && r.P50Ms is not null).ToList();
        var plot = new ScottPlot.Plot();
        foreach (var line in rows.GroupBy(r => (r.Case, r.System)))
        {
            var points = line.OrderBy(r => r.Concurrency).ToList();
            var scatter = plot.Add.Scatter(points.Select(r => (double)r.Concurrency).ToArray(), points.Select(r => Math.Log10(r.P50Ms!.Value)).ToArray());
            scatter.LegendText = $"{line.Key.Case}, {line.Key.System}";
            scatter.LineWidth = 2;
            scatter.MarkerSize = 7;
        }
        BenchPlot.LogMilliseconds(plot, "p50 ms per call, request → reply (log scale)");
        var sizes = rows.Select(r => r.Concurrency).Distinct().Order().ToList();
        plot.Axes.Bottom.Label.Text = "calls released at once";
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual([.. sizes.Select(n => (double)n)], [.. sizes.Select(I)]);
        plot.Title("Python cold starts under concurrency");
        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        plot.Grid.MajorLineColor = ScottPlot.Colors.Black.WithOpacity(0.1);
        BenchPlot.Save(plot, path);
    }

    private static string F(double? v) => v is not { } x ? "-" : x.ToString(x < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture);

    private static string X(double? v) => v is { } x ? x.ToString(x < 10 ? "0.0" : "0", CultureInfo.InvariantCulture) + "×" : "";

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
}
