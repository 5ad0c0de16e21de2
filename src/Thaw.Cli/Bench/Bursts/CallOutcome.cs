namespace Thaw.Cli.Bench.Bursts;

/// <summary>
/// What one call of a burst came back with. <see cref="Status"/> is the HTTP status for Thaw; a peer
/// that printed its reply and exited 0 is 200; a call that got no reply at all (the connection
/// failed, the container failed) is 0, with <see cref="Error"/> saying why.
/// </summary>
internal readonly record struct CallOutcome(int Status, bool Cold, double? HandlerMs, string? Error)
{
    public const int NoReply = 0;

    public bool Succeeded => Status == 200;

    public static CallOutcome Failed(string error) => new(NoReply, false, null, error);
}

/// <summary>One call: its outcome and its latency, request sent → reply read (ms).</summary>
internal readonly record struct CallSample(double Ms, CallOutcome Outcome);
