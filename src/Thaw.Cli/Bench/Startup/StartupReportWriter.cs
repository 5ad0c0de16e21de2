using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace Thaw.Cli.Bench.Startup;

/// <summary>The startup bench's table with ratios, its JSON and its plot.</summary>
internal static class StartupReportWriter
{
    public static void Print(StartupReport report, IAnsiConsole console)
    {
        var table = new Table().Title("request → sandboxed /bin/true exited (median / p99 per sandbox; wall = whole burst, median over bursts)")
            .AddColumns("system", "concurrency", "median ms", "p99 ms", "wall ms", "samples", "median vs thaw");
        foreach (var r in report.Results)
        {
            var thaw = report.Results.FirstOrDefault(t => t.System == "thaw" && t.Concurrency == r.Concurrency);
            string ratio = thaw is null || r.System == "thaw" ? "" : (r.MedianMs / thaw.MedianMs).ToString("0.0", CultureInfo.InvariantCulture) + "×";
            table.AddRow(r.System, I(r.Concurrency), F(r.MedianMs), F(r.P99Ms), F(r.WallMs), I(r.Samples), ratio);
        }
        console.Write(table);
        if (report.Results.Any(r => r.System == "floor"))
            console.MarkupLine("floor: one vfork-style clone into new pid, ipc and uts namespaces + exec of the same /bin/true; no server, netns, cgroup, root or mount namespace (src/native/startup-floor.c): the least a sandbox start costs on this machine.");
        foreach (var note in report.Notes)
            console.MarkupLine($"[yellow]note:[/] {Markup.Escape(note)}");
    }

    public static void WriteJson(StartupReport report, string path) =>
        File.WriteAllText(path, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));

    /// <summary>Median start latency per burst size, one line per system, log-scaled (PNG or SVG by extension).</summary>
    public static void WritePlot(StartupReport report, string path)
    {
        var plot = new ScottPlot.Plot();
        foreach (var system in report.Results.Select(r => r.System).Distinct())
        {
            var rows = report.Results.Where(r => r.System == system).OrderBy(r => r.Concurrency).ToList();
            var line = plot.Add.Scatter(rows.Select(r => (double)r.Concurrency).ToArray(), rows.Select(r => Math.Log10(r.MedianMs)).ToArray());
            line.LegendText = system;
            line.LineWidth = 2;
            line.MarkerSize = 7;
        }
        BenchPlot.LogMilliseconds(plot, "median ms per sandbox (log scale)");
        plot.Axes.Bottom.Label.Text = "sandboxes started at once";
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            [.. report.Results.Select(r => (double)r.Concurrency).Distinct().Order()], [.. report.Results.Select(r => I(r.Concurrency)).Distinct().OrderBy(int.Parse)]);
        plot.Title("Sandbox start: request → /bin/true exited");
        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        plot.Grid.MajorLineColor = ScottPlot.Colors.Black.WithOpacity(0.1);
        BenchPlot.Save(plot, path);
    }

    private static string F(double v) => v.ToString(v < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture);

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
}
