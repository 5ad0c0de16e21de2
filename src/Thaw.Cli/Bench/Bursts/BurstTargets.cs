namespace Thaw.Cli.Bench.Bursts;

/// <summary>Where a target stands in a run.</summary>
internal enum TargetOutcome
{
    Met,
    NotMet,
    /// <summary>The run did not measure it (that case or concurrency was not asked for).</summary>
    NotMeasured,
}

/// <summary>A figure Thaw aims for: a metric of Thaw's row at one case and concurrency, at most (or at least) a limit.</summary>
internal sealed record BurstTarget(string Case, int Concurrency, string Metric, double Limit, bool AtLeast, string Text);

/// <summary>A target with what the run measured. Met only when every call of its row was a cold 200 too.</summary>
internal sealed record BurstTargetResult(BurstTarget Target, double? Measured, TargetOutcome Outcome);

internal static class BurstTargets
{
    public static readonly IReadOnlyList<BurstTarget> All =
    [
        new(BurstCases.ImageResize, 20, "p50_ms", 12, false, "20 cold PIL+numpy calls at once: p50 ≤ 12 ms"),
        new(BurstCases.ImageResize, 20, "wall_ms", 30, false, "20 cold PIL+numpy calls at once: wall ≤ 30 ms"),
        new(BurstCases.ImageResize, 50, "p50_ms", 30, false, "50 cold PIL+numpy calls at once: p50 ≤ 30 ms"),
        new(BurstCases.DistinctHello, 50, "p50_ms", 20, false, "first calls to 50 distinct hello functions: p50 ≤ 20 ms"),
        new(BurstCases.SustainedHello, 16, "starts_per_second", 800, true, "sustained cold starts, 16 clients: ≥ 800/s"),
    ];

    public static IReadOnlyList<BurstTargetResult> Evaluate(IReadOnlyList<BurstResult> results) =>
        [.. All.Select(target =>
        {
            var row = results.FirstOrDefault(r => r.System == BurstSystems.Thaw && r.Case == target.Case && r.Concurrency == target.Concurrency);
            double? measured = row is null ? null : target.Metric switch
            {
                "p50_ms" => row.P50Ms,
                "wall_ms" => row.WallMs,
                "starts_per_second" => row.StartsPerSecond,
                _ => throw new InvalidOperationException($"unknown target metric {target.Metric}"),
            };
            if (row is null || measured is not { } value)
                return new BurstTargetResult(target, measured, TargetOutcome.NotMeasured);
            bool within = target.AtLeast ? value >= target.Limit : value <= target.Limit;
            bool clean = row.Non200 == 0 && row.NotCold == 0;
            return new BurstTargetResult(target, value, within && clean ? TargetOutcome.Met : TargetOutcome.NotMet);
        })];
}
