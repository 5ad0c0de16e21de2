using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace Thaw.Cli.Bench.Python;

/// <summary>The Python bench's table (with speedups over the usual platform), its JSON and its plot.</summary>
internal static class PythonReportWriter
{
    public static void Print(PythonReport report, IAnsiConsole console)
    {
        var table = new Table().Title("Python cold start: request → first reply (median / p99)")
            .AddColumns("function", "mode", "median ms", "p99 ms", "samples", "speed-up vs runc-python");
        foreach (var r in report.Results.OrderBy(r => r.Function, StringComparer.Ordinal))
        {
            var runc = report.Results.FirstOrDefault(p => p.Mode == "runc-python" && p.Function == r.Function);
            string ratio = runc is null || r.Mode == runc.Mode ? "" : (runc.MedianMs / r.MedianMs).ToString("0.0", CultureInfo.InvariantCulture) + "×";
            table.AddRow(r.Function, r.Mode, F(r.MedianMs), F(r.P99Ms), r.Samples.ToString(CultureInfo.InvariantCulture), ratio);
        }
        console.Write(table);
        console.MarkupLine("runc-python and thaw-exec: a fresh python3 -I -S imports the function and prints its reply; timed to the interpreter's exit. root-zygote, zygote-tree and morula: a parked child (or fresh interpreter) claimed, handler imported, one invocation answered.");
        foreach (var note in report.Notes)
            console.MarkupLine($"[yellow]note:[/] {Markup.Escape(note)}");
    }

    public static void WriteJson(PythonReport report, string path) =>
        File.WriteAllText(path, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));

    /// <summary>Median cold start per function, one bar per mode, log-scaled (PNG or SVG by extension).</summary>
    public static void WritePlot(PythonReport report, string path)
    {
        var plot = new ScottPlot.Plot();
        var functions = report.Results.Select(r => r.Function).Distinct().ToList();
        var modes = report.Results.Select(r => r.Mode).Distinct().ToList();
        var palette = new ScottPlot.Palettes.Category10();
        for (int m = 0; m < modes.Count; m++)
        {
            var bars = new List<ScottPlot.Bar>();
            for (int f = 0; f < functions.Count; f++)
                if (report.Results.FirstOrDefault(r => r.Function == functions[f] && r.Mode == modes[m]) is { } r)
                    bars.Add(new ScottPlot.Bar { Position = f * (modes.Count + 1) + m, Value = Math.Log10(r.MedianMs), FillColor = palette.GetColor(m) });
            var series = plot.Add.Bars(bars);
            series.LegendText = modes[m];
            series.Color = palette.GetColor(m);
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            [.. functions.Select((_, f) => f * (modes.Count + 1) + (modes.Count - 1) / 2.0)], [.. functions]);
        BenchPlot.LogMilliseconds(plot, "median ms, request → first reply (log scale)");
        plot.Axes.Margins(bottom: 0);
        plot.Title("Python cold start by mode");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        BenchPlot.Save(plot, path);
    }

    private static string F(double v) => v.ToString(v < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture);
}
