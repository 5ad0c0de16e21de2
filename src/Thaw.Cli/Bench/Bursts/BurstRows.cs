using System.Globalization;
using Thaw.Resources.Pooling;

namespace Thaw.Cli.Bench.Bursts;

/// <summary>Turns the calls of a case into its row, and sets the ratios between rows.</summary>
internal static class BurstRows
{
    private const int ErrorsKept = 3;

    /// <summary>A burst row: every call of every measured burst, and each burst's wall time.</summary>
    public static BurstResult FromBursts(string caseName, string system, int concurrency, IReadOnlyList<(CallSample[] Calls, double WallMs)> bursts)
    {
        var walls = bursts.Select(b => b.WallMs).ToList();
        return Summarize(caseName, system, concurrency, [.. bursts.SelectMany(b => b.Calls)]) with
        {
            Bursts = bursts.Count,
            WallMs = LatencyReservoir.Percentile([.. walls.Order()], 0.5),
            WallsMs = walls,
        };
    }

    /// <summary>A sustained row: every call of the closed loop and the time it ran; cold 200s per second.</summary>
    public static BurstResult FromClosedLoop(string caseName, string system, int clients, IReadOnlyList<CallSample> calls, double seconds) =>
        Summarize(caseName, system, clients, calls) with
        {
            DurationSeconds = seconds,
            StartsPerSecond = calls.Count(c => c.Outcome.Succeeded && c.Outcome.Cold) / seconds,
        };

    private static BurstResult Summarize(string caseName, string system, int concurrency, IReadOnlyList<CallSample> calls)
    {
        var ok = calls.Where(c => c.Outcome.Succeeded).ToList();
        var latencies = ok.Select(c => c.Ms).Order().ToList();
        var handler = ok.Where(c => c.Outcome.HandlerMs is not null).Select(c => c.Outcome.HandlerMs!.Value).Order().ToList();
        return new BurstResult(
            caseName,
            system,
            concurrency,
            calls.Count,
            calls.Count - ok.Count,
            ok.Count(c => !c.Outcome.Cold),
            calls.GroupBy(c => c.Outcome.Status).OrderBy(g => g.Key).ToDictionary(g => g.Key.ToString(CultureInfo.InvariantCulture), g => g.Count()),
            latencies.Count > 0 ? LatencyReservoir.Percentile(latencies, 0.5) : null,
            latencies.Count > 0 ? LatencyReservoir.Percentile(latencies, 0.99) : null)
        {
            HandlerP50Ms = handler.Count > 0 ? LatencyReservoir.Percentile(handler, 0.5) : null,
            Errors = [.. calls.Select(c => c.Outcome.Error).OfType<string>().Distinct().Take(ErrorsKept)],
        };
    }

    /// <summary>Each row's flatness (p50 ÷ its own p50 at 1) and, on Thaw's rows, the peer's p50 ÷ Thaw's.</summary>
    public static IReadOnlyList<BurstResult> WithRatios(IReadOnlyList<BurstResult> rows) =>
        [.. rows.Select(r =>
        {
            var one = r.DurationSeconds is null ? rows.FirstOrDefault(o => o.Case == r.Case && o.System == r.System && o.Concurrency == 1 && o.DurationSeconds is null) : null;
            var peer = r.System == BurstSystems.Thaw ? rows.FirstOrDefault(p => p.Case == r.Case && p.Concurrency == r.Concurrency && p.System != BurstSystems.Thaw) : null;
            return r with
            {
                Flatness = one is null ? null : Ratio(r.P50Ms, one.P50Ms),
                PeerRatio = peer is null ? null : Ratio(peer.P50Ms, r.P50Ms),
            };
        })];

    private static double? Ratio(double? a, double? b) => a is { } x && b is > 0 ? x / b.Value : null;
}
