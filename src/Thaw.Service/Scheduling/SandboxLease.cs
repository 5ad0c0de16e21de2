namespace Thaw.Service.Scheduling;

/// <summary>A sandbox handed to one call, and how it was got (the call's Server-Timing phases).</summary>
public sealed class SandboxLease
{
    internal SandboxLease(WarmSandbox sandbox, bool cold, double queueMs, double startMs, double thawMs)
    {
        Sandbox = sandbox;
        Cold = cold;
        QueueMs = queueMs;
        StartMs = startMs;
        ThawMs = thawMs;
    }

    public WarmSandbox Sandbox { get; }

    /// <summary>A new sandbox was started for this call.</summary>
    public bool Cold { get; }

    /// <summary>Time spent waiting for a sandbox of the function to come free.</summary>
    public double QueueMs { get; }

    /// <summary>For a cold call: request to handler ready (claims, fork, import, init).</summary>
    public double StartMs { get; }

    /// <summary>Time the freezer took to resume a paused sandbox (0 when it was not paused).</summary>
    public double ThawMs { get; }
}
