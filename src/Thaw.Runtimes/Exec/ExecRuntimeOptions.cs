namespace Thaw.Runtimes.Exec;

/// <summary>What every exec function's sandbox gets besides its manifest's memory, timeout and environment.</summary>
public sealed class ExecRuntimeOptions
{
    /// <summary>CPUs of bandwidth per sandbox.</summary>
    public double CpuQuota { get; set; } = 1.0;

    /// <summary>Tasks (processes and threads) per sandbox: a fork bomb stops here.</summary>
    public int PidsMax { get; set; } = 64;

    /// <summary>How often a sandbox is spawned when the zygote it went to died before the clone (nothing ran: safe to repeat).</summary>
    public int StartAttempts { get; set; } = 3;

    /// <summary>The largest result (stdout) a call may write; more is an error, not a cut-off reply.</summary>
    public int MaxOutputBytes { get; set; } = 6 << 20;
}
