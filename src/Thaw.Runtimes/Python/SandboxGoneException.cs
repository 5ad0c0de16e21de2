namespace Thaw.Runtimes.Python;

/// <summary>The sandbox stopped (crashed, was killed, ran out of memory) before or while serving a call.</summary>
public sealed class SandboxGoneException(string sandboxId, string reason, bool outOfMemory = false)
    : Exception($"sandbox {sandboxId} is gone: {reason}")
{
    public string SandboxId { get; } = sandboxId;

    /// <summary>The OOM killer ended it: the function's memory limit was hit.</summary>
    public bool OutOfMemory { get; } = outOfMemory;
}
