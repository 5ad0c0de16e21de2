namespace Thaw.Runtimes.Python;

/// <summary>The sandbox stopped (crashed, was killed, ran out of memory) before or while serving a call.</summary>
public sealed class SandboxGoneException(string sandboxId, string reason)
    : Exception($"sandbox {sandboxId} is gone: {reason}")
{
    public string SandboxId { get; } = sandboxId;
}
