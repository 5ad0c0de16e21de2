using System.Globalization;
using Spectre.Console;

namespace Thaw.Cli.Bench;

/// <summary>Prints `thaw bench pools` results as tables with the ratios that matter.</summary>
internal static class PoolsReport
{
    public static void Print(PoolBenchReport report, IAnsiConsole console)
    {
        var table = new Table().Title("Claim latency per resource (ms; median / p99 per claim, wall = whole burst)")
            .AddColumns("resource", "c", "pool", "fresh (Thaw)", "ip (container way)", "fresh ÷ pool", "ip ÷ pool", "ip wall");
        foreach (var group in report.Results.GroupBy(r => (r.Resource, r.Concurrency)))
        {
            var pool = group.FirstOrDefault(r => r.Path == "pool");
            var fresh = group.FirstOrDefault(r => r.Path == "fresh");
            var ip = group.FirstOrDefault(r => r.Path == "ip");
            table.AddRow(group.Key.Resource, group.Key.Concurrency.ToString(CultureInfo.InvariantCulture),
                Cell(pool), Cell(fresh), Cell(ip), Ratio(fresh, pool), Ratio(ip, pool),
                ip is null ? "-" : F(ip.WallMs));
        }
        console.Write(table);

        var memory = new Table().Title("Kernel memory held by pooled resources").AddColumns("resource", "count", "KiB", "KiB each", "measure");
        foreach (var m in report.Memory)
            memory.AddRow(m.Resource, m.Count.ToString(CultureInfo.InvariantCulture), m.KernelKib.ToString(CultureInfo.InvariantCulture),
                F((double)m.KernelKib / m.Count), m.Measure);
        console.Write(memory);

        var refill = new Table().Title("Refill under a steady claim rate (claims held, so every one must be crafted)")
            .AddColumns("resource", "target/s", "achieved/s", "claims", "misses", "claim p99 ms");
        foreach (var r in report.Refill)
            refill.AddRow(r.Resource, r.TargetClaimsPerSecond.ToString(CultureInfo.InvariantCulture), F(r.AchievedClaimsPerSecond),
                r.Claims.ToString(CultureInfo.InvariantCulture), r.Misses.ToString(CultureInfo.InvariantCulture), F(r.ClaimP99Ms));
        console.Write(refill);
    }

    private static string Cell(PoolBenchResult? r) => r is null ? "-" : $"{F(r.MedianMs)} / {F(r.P99Ms)}";

    private static string Ratio(PoolBenchResult? slow, PoolBenchResult? pool) =>
        slow is null || pool is null || pool.MedianMs <= 0 ? "-" : (slow.MedianMs / pool.MedianMs).ToString("0", CultureInfo.InvariantCulture) + "×";

    private static string F(double v) => v switch
    {
        < 0.1 => v.ToString("0.0000", CultureInfo.InvariantCulture),
        < 10 => v.ToString("0.000", CultureInfo.InvariantCulture),
        _ => v.ToString("0.0", CultureInfo.InvariantCulture),
    };
}
