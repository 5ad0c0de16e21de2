namespace Thaw.Sandboxes;

/// <summary>runc's states: creating, created (entered, waiting for start), running, stopped.</summary>
public enum SandboxStatus
{
    Creating,
    Created,
    Running,
    Stopped,
}

/// <summary>A sandbox's state, as `runc state` prints it.</summary>
public sealed record SandboxState(string Id, SandboxStatus Status, int? Pid, SandboxExit? Exit, string Cgroup, string Root, string Netns);
