using Thaw.Linux;
using Thaw.Resources.Cgroups;

namespace Thaw.Sandboxes.Zygotes;

/// <summary>
/// A child a zygote forked ahead, waiting on its own socket for a spawn, and thawd's end of that
/// socket. thawd gives it a pooled cgroup to join while it waits (it is "dressed"): joining a
/// cgroup (v1: four cgroup.procs writes) costs 0.06–1.7 ms after idle, all of it off the cold path
/// this way; a claim then only writes the function's limits into that cgroup.
/// </summary>
internal sealed class ParkedChild(int pid, SafeFd socket)
{
    public int Pid { get; } = pid;

    /// <summary>thawd's end of the child's socket: the spawn goes here, then it is closed.</summary>
    public SafeFd Socket { get; } = socket;

    /// <summary>The cgroup the child joined while parked; null if none could be given (it joins one at spawn).</summary>
    public SandboxCgroup? Cgroup { get; set; }
}
