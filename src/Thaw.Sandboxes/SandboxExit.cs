namespace Thaw.Sandboxes;

/// <summary>How a sandbox ended.</summary>
/// <param name="ExitCode">The program's exit code, or null if a signal killed it.</param>
/// <param name="Signal">The signal that killed it, or null.</param>
/// <param name="Error">Why it never ran its program (setup or exec failed), or why it was lost.</param>
/// <param name="OomKilled">The kernel's OOM killer killed a process of the sandbox (its memory limit).</param>
/// <param name="TimedOut">Thaw killed it when its timeout ran out.</param>
/// <param name="ExitedAt">Stopwatch timestamp of the moment thawd learned of the exit.</param>
/// <param name="ZygoteLost">Its zygote died first, and thawd killed it through its cgroup: nothing of its own ended it.</param>
public sealed record SandboxExit(int? ExitCode, int? Signal, string? Error, bool OomKilled, bool TimedOut, long ExitedAt, bool ZygoteLost = false)
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
