namespace Thaw.Service.Scheduling;

/// <summary>
/// A call that failed after thawd knew something about it: whether its start was cold, which version
/// and sandbox served it, and where its time went. The reply is the <see cref="Exception.InnerException"/>'s
/// (a timeout, a sandbox that died, a start that failed), with <c>X-Thaw-Start</c> and
/// <c>Server-Timing</c> as a successful call's.
/// </summary>
public sealed class CallFailedException(Exception reason, bool cold, int version, string? sandboxId, CallPhases phases)
    : Exception(reason.Message, reason)
{
    public bool Cold { get; } = cold;

    public int Version { get; } = version;

    /// <summary>The sandbox that served it; null when none started.</summary>
    public string? SandboxId { get; } = sandboxId;

    public CallPhases Phases { get; } = phases;

    /// <summary>Only the total is known (nothing started, or the start failed).</summary>
    internal static CallPhases Total(double totalMs) =>
        new(double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, totalMs);
}
