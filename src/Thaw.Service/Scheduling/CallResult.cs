using Thaw.Runtimes.Python;

namespace Thaw.Service.Scheduling;

/// <summary>One call's outcome and where its time went (what the Server-Timing header reports).</summary>
public sealed record CallResult(Invocation Invocation, string Function, int Version, string SandboxId, bool Cold, CallPhases Phases);

/// <summary>
/// Milliseconds per phase. Cold: claim (netns, cgroup, root from their pools), fork (zygote fork and
/// sandbox entry), init (handler import and init inside the sandbox), start (request to ready, all
/// of those). Warm: thaw (freezer resume, when it was paused). Both: queue, call (the round trip to
/// the sandbox), handler (the function's own time, measured inside), total. NaN: not measured.
/// </summary>
public sealed record CallPhases(double Queue, double Claim, double Fork, double Init, double Start, double Thaw, double Call, double Handler, double Total);
