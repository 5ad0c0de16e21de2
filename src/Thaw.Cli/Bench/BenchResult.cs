namespace Thaw.Cli.Bench;

// Serialized with JsonNamingPolicy.SnakeCaseLower (BenchCommand): MedianMs → "median_ms", the
// shape issue 2 asks for: {"results":[{"resource":…,"path":"pool"|"fresh"|"ip","concurrency":N,"median_ms":x,"p99_ms":y}]}.

/// <summary>One row of `thaw bench pools`: a resource, a path to it, a burst size, and its latencies.</summary>
internal sealed record PoolBenchResult(string Resource, string Path, int Concurrency, double MedianMs, double P99Ms, double WallMs, int Samples);

internal sealed record PoolMemoryResult(string Resource, int Count, long KernelKib, string Measure);

internal sealed record RefillResult(string Resource, int TargetClaimsPerSecond, double AchievedClaimsPerSecond, long Claims, long Misses, double ClaimP99Ms);

internal sealed record PoolBenchReport(
    IReadOnlyList<PoolBenchResult> Results,
    IReadOnlyList<PoolMemoryResult> Memory,
    IReadOnlyList<RefillResult> Refill,
    string Host,
    DateTime StartedUtc);
