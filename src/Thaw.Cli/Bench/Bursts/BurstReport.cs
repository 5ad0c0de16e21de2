using System.Text.Json.Serialization;

namespace Thaw.Cli.Bench.Bursts;

// Serialized with JsonNamingPolicy.SnakeCaseLower (BurstReportWriter): one row per case, system and
// concurrency, {"case","system","concurrency","calls","non_200","p50_ms","p99_ms","wall_ms",...}.

/// <summary>
/// One row: a case run by a system at one concurrency. For bursts, <see cref="Concurrency"/> calls
/// released at once, <see cref="Bursts"/> times, each after the idle pause; for the sustained case,
/// that many clients in a closed loop for <see cref="DurationSeconds"/>. Latency percentiles are
/// over the calls that succeeded (a refusal is fast and would flatter them; null when none did); the rest are counted in
/// <see cref="Non200"/> and <see cref="Statuses"/> (status 0: no reply at all).
/// </summary>
internal sealed record BurstResult(
    string Case,
    string System,
    int Concurrency,
    int Calls,
    [property: JsonPropertyName("non_200")] int Non200,
    int NotCold,
    IReadOnlyDictionary<string, int> Statuses,
    double? P50Ms,
    double? P99Ms)
{
    /// <summary>Bursts measured (0 for the sustained case).</summary>
    public int Bursts { get; init; }

    /// <summary>The median burst's wall time, first call released → last reply read (bursts only).</summary>
    public double? WallMs { get; init; }

    /// <summary>Every burst's wall time, in the order they ran.</summary>
    public IReadOnlyList<double>? WallsMs { get; init; }

    /// <summary>The median of the handler's own time, as thawd reports it (Server-Timing: handler).</summary>
    public double? HandlerP50Ms { get; init; }

    /// <summary>p50 at this concurrency ÷ p50 at 1, same case and system: 1 is perfectly flat.</summary>
    public double? Flatness { get; init; }

    /// <summary>On Thaw's rows: the peer's p50 ÷ Thaw's at the same case and concurrency.</summary>
    public double? PeerRatio { get; init; }

    /// <summary>The sustained case: how long the clients ran, and successful cold starts per second.</summary>
    public double? DurationSeconds { get; init; }

    public double? StartsPerSecond { get; init; }

    /// <summary>The first few distinct errors, as they came back (for non-200s and failed peers).</summary>
    public IReadOnlyList<string> Errors { get; init; } = [];
}

internal sealed record BurstReport(
    IReadOnlyList<BurstResult> Results,
    IReadOnlyList<BurstTargetResult> Targets,
    IReadOnlyList<string> Notes,
    BurstSettings Settings,
    string Host,
    DateTime StartedUtc);

/// <summary>What the run was asked to do, echoed in the JSON so a figure can be read with its conditions.</summary>
internal sealed record BurstSettings(
    IReadOnlyList<int> Concurrency,
    int Bursts,
    double IdleMs,
    int SustainedClients,
    double SustainedSeconds,
    string Peer,
    int PoolSize,
    long MemoryBudgetBytes);
