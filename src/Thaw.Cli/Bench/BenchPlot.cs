using System.Globalization;

namespace Thaw.Cli.Bench;

/// <summary>What the benches' plots share: a log-scaled millisecond axis and saving by extension.</summary>
internal static class BenchPlot
{
    /// <summary>Values are plotted as log10(ms); this labels the axis in plain milliseconds.</summary>
    public static void LogMilliseconds(ScottPlot.Plot plot, string label)
    {
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => Math.Pow(10, y).ToString("0.###", CultureInfo.InvariantCulture),
        };
        plot.Axes.Left.Label.Text = label;
    }

    /// <summary>Writes an .svg or (any other extension) a .png, 900×550.</summary>
    public static void Save(ScottPlot.Plot plot, string path)
    {
        if (path.EndsWith(".svg", StringComparison.OrdinalIgnoreCase))
            plot.SaveSvg(path, 900, 550);
        else
            plot.SavePng(path, 900, 550);
    }
}
