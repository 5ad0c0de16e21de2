using Thaw.Runtimes.Python;

namespace Thaw.Service.Scheduling;

/// <summary>
/// One call's outcome, the zygote its sandbox was forked from ("root" or the modules it had
/// imported), and where its time went (what the Server-Timing header reports). Its sandbox is back
/// in the handler cache already; <see cref="Release"/> once the reply is sent stops it if it is not
/// kept (keep_alive = 0, outdated), so that teardown happens after the reply, not during it.
/// </summary>
public sealed record CallResult(Invocation Invocation, string Function, int Version, string SandboxId, bool Cold, string Zygote, CallPhases Phases)
{
    /// <summary>Stops the call's sandbox if it is not kept (once; later calls do nothing).</summary>
    public void Release() => Interlocked.Exchange(ref _release, null)?.Invoke();

    private Action? _release;

    internal CallResult WithRelease(Action? release)
    {
        _release = release;
        return this;
    }
}

/// <summary>
/// Milliseconds per phase. Cold: claim (netns, cgroup, root from their pools), fork (zygote fork and
/// sandbox entry), init (handler import and init inside the sandbox), start (request to ready, all
/// of those). Warm: thaw (freezer resume, when it was paused). Both: queue, call (the round trip to
/// the sandbox), handler (the function's own time, measured inside), total. NaN: not measured.
/// </summary>
public sealed record CallPhases(double Queue, double Claim, double Fork, double Init, double Start, double Thaw, double Call, double Handler, double Total);
