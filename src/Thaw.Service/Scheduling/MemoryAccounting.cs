namespace Thaw.Service.Scheduling;

/// <summary>What a sandbox counts against the node's memory budget.</summary>
public enum MemoryAccounting
{
    /// <summary>
    /// Its cgroup's measured usage plus headroom, (limit − usage) / overcommit factor; a sandbox not
    /// measured yet counts as its function's last measured sandbox, or its whole limit when none was.
    /// </summary>
    Measured,

    /// <summary>Its whole memory limit: never overcommitted, and idle sandboxes hold what they may never use.</summary>
    Limits,
}
