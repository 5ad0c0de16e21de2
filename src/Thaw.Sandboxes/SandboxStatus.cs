namespace Thaw.Sandboxes;

/// <summary>runc's states: creating, created (entered, waiting for start), running, stopped.</summary>
public enum SandboxStatus
{
    Creating,
    Created,
    Running,
    Stopped,
}

/// <summary>How a sandbox ended.</summary>
/// <param name="ExitCode">The program's exit code, or null if a signal killed it.</param>
/// <param name="Signal">The signal that killed it, or null.</param>
/// <param name="Error">Why it never ran its program (setup or exec failed), or why it was lost.</param>
/// <param name="OomKilled">The kernel's OOM killer killed a process of the sandbox (its memory limit).</param>
/// <param name="TimedOut">Thaw killed it when its timeout ran out.</param>
/// <param name="ExitedAt">Stopwatch timestamp of the moment thawd learned of the exit.</param>
public sealed record SandboxExit(int? ExitCode, int? Signal, string? Error, bool OomKilled, bool TimedOut, long ExitedAt)
{
    /// <summary>A shell's view: the code, or 128 + signal.</summary>
    public int ShellCode => ExitCode ?? (Signal is int s ? 128 + s : 125);

    public override string ToString()
    {
        string how = Error ?? (ExitCode is int c ? $"exit code {c}" : $"killed by signal {Signal}");
        if (OomKilled) how += " (out of memory: killed by the OOM killer at its memory limit)";
        if (TimedOut) how += " (timed out)";
        return how;
    }
}

/// <summary>A sandbox's state, as `runc state` prints it.</summary>
public sealed record SandboxState(string Id, SandboxStatus Status, int? Pid, SandboxExit? Exit, string Cgroup, string Root, string Netns);

/// <summary>
/// Stopwatch timestamps of a sandbox's cold start, for Server-Timing and the startup bench: the
/// request, the pool claims done, the zygote's spawn reply, the program exec'd, the exit learned.
/// </summary>
public sealed class SandboxTimings
{
    public long Requested { get; internal set; }

    public long Claimed { get; internal set; }

    public long Spawned { get; internal set; }

    public long Started { get; internal set; }

    public long Exited { get; internal set; }

    public static double Ms(long from, long to) => from == 0 || to == 0 ? double.NaN : System.Diagnostics.Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;
}
