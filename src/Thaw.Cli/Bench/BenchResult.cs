using System.Text.Json.Serialization;

namespace Thaw.Cli.Bench;

/// <summary>One row of `thaw bench pools`: a resource, a path to it, a burst size, and its latencies.</summary>
internal sealed record PoolBenchResult(
    [property: JsonPropertyName("resource")] string Resource,
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("concurrency")] int Concurrency,
    [property: JsonPropertyName("median_ms")] double MedianMs,
    [property: JsonPropertyName("p99_ms")] double P99Ms,
    [property: JsonPropertyName("wall_ms")] double WallMs,
    [property: JsonPropertyName("samples")] int Samples);

internal sealed record PoolMemoryResult(
    [property: JsonPropertyName("resource")] string Resource,
    [property: JsonPropertyName("count")] int Count,
    [property: JsonPropertyName("kernel_kib")] long KernelKib,
    [property: JsonPropertyName("measure")] string Measure);

internal sealed record RefillResult(
    [property: JsonPropertyName("resource")] string Resource,
    [property: JsonPropertyName("target_claims_per_s")] int TargetRate,
    [property: JsonPropertyName("achieved_claims_per_s")] double AchievedRate,
    [property: JsonPropertyName("claims")] long Claims,
    [property: JsonPropertyName("misses")] long Misses,
    [property: JsonPropertyName("claim_p99_ms")] double ClaimP99Ms);

internal sealed record PoolBenchReport(
    [property: JsonPropertyName("results")] IReadOnlyList<PoolBenchResult> Results,
    [property: JsonPropertyName("memory")] IReadOnlyList<PoolMemoryResult> Memory,
    [property: JsonPropertyName("refill")] IReadOnlyList<RefillResult> Refill,
    [property: JsonPropertyName("host")] string Host,
    [property: JsonPropertyName("started_utc")] DateTime StartedUtc);
