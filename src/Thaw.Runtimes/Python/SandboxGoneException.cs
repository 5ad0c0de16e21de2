namespace Thaw.Runtimes.Python;

/// <summary>How a sandbox failed a call: each is its own API error code (docs/api.md).</summary>
public enum SandboxFault
{
    /// <summary>It stopped (crashed, was killed) before or while serving the call: <c>sandbox_died</c>.</summary>
    Died,

    /// <summary>The OOM killer ended it at its memory limit: <c>out_of_memory</c>.</summary>
    OutOfMemory,

    /// <summary>It wrote something on its invoke socket that is not a reply frame; thawd killed it: <c>protocol_error</c>.</summary>
    BrokenProtocol,
}

/// <summary>The sandbox stopped (crashed, was killed, ran out of memory) or broke the invoke protocol, before or while serving a call.</summary>
public sealed class SandboxGoneException(string sandboxId, string reason, SandboxFault fault = SandboxFault.Died, bool delivered = true)
    : Exception($"sandbox {sandboxId} is gone: {reason}")
{
    public string SandboxId { get; } = sandboxId;

    public SandboxFault Fault { get; } = fault;

    /// <summary>
    /// Whether the call may have reached the handler. False when the sandbox was dead before it read
    /// the call (the send failed, or its socket was reset with the call unread): the call can go to
    /// another sandbox as if nothing happened.
    /// </summary>
    public bool Delivered { get; } = delivered;
}
