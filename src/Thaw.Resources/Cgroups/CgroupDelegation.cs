namespace Thaw.Resources.Cgroups;

/// <summary>Whether thawd may use the cgroup it was started in as its own subtree on a pure cgroup2 host.</summary>
public enum CgroupDelegation
{
    /// <summary>
    /// Use it when its service manager marked it delegated (systemd 251+ sets trusted.delegate on the
    /// cgroup of a unit with Delegate=yes); otherwise make a subtree of its own at the mount's root.
    /// </summary>
    Auto,

    /// <summary>Use it even unmarked: a supervisor that delegates without marking (systemd before 251, a container).</summary>
    Use,

    /// <summary>Always make a subtree of its own at the mount's root, as on a v1 host.</summary>
    Ignore,
}
