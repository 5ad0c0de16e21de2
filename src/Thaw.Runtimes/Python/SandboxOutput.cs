namespace Thaw.Runtimes.Python;

/// <summary>Receivers of a sandbox's stdout and stderr chunks as they arrive (called on the spawner's reader, keep them short).</summary>
public sealed record SandboxOutput(Action<ReadOnlyMemory<byte>>? Stdout, Action<ReadOnlyMemory<byte>>? Stderr);
