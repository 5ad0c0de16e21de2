namespace Thaw.Sandboxes;

/// <summary>
/// Stopwatch timestamps of a sandbox's cold start, for Server-Timing and the startup bench: the
/// request, the pool claims done, the program exec'd, the exit learned.
/// </summary>
public sealed class SandboxTimings
{
    public long Requested { get; internal set; }

    public long Claimed { get; internal set; }

    public long Started { get; internal set; }

    public long Exited { get; internal set; }

    public static double Ms(long from, long to) => from == 0 || to == 0 ? double.NaN : System.Diagnostics.Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;
}
