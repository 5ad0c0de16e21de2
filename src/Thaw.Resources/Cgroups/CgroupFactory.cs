using Thaw.Linux.Cgroups;
using Thaw.Resources.Pooling;

namespace Thaw.Resources.Cgroups;

/// <summary>
/// Crafts, recycles and destroys sandbox cgroups under "&lt;instance&gt;/" in each hierarchy of the
/// layout. A cgroup is created with the default limits, so even an idle one is bounded.
/// </summary>
public sealed class CgroupFactory(CgroupLayout layout, ThawNaming naming, CgroupPoolOptions options) : IResourceFactory<SandboxCgroup>
{
    private int _lastId;

    /// <summary>The instance's parent directory in each hierarchy.</summary>
    public IReadOnlyList<string> ParentDirectories { get; } =
        [.. layout.Hierarchies.Select(h => Path.Combine(layout.RootIn(h), naming.CgroupName))];

    public SandboxCgroup Create()
    {
        var cgroup = new SandboxCgroup(layout, naming.CgroupName, Interlocked.Increment(ref _lastId), options.KillTimeout);
        try
        {
            cgroup.Create();
            if (options.OomGroup)
                cgroup.KillWholeOnOom();
            cgroup.ApplyLimits(options.DefaultLimits, options.CpuPeriodMicroseconds);
        }
        catch
        {
            cgroup.Remove();
            throw;
        }
        return cgroup;
    }

    /// <summary>Empties the cgroup, clears what the last sandbox left in its counters and restores the default limits.</summary>
    public bool TryRecycle(SandboxCgroup item)
    {
        if (!item.KillAll())
            return false;
        item.ResetCounters();
        item.OomKillsWhenPooled = item.OomKills();
        item.ApplyLimits(options.DefaultLimits, options.CpuPeriodMicroseconds);
        _ = item.ProcsFds; // closed while a sandbox held it: reopened here, not on the next claim
        return true;
    }

    public void Destroy(SandboxCgroup item)
    {
        item.KillAll();
        item.Remove();
    }

    /// <summary>
    /// Creates the instance's parent in each hierarchy. On cgroup2 a child gets a controller only if
    /// its parent lists it in cgroup.subtree_control, so the controllers are enabled in the parent's
    /// parent (the mount's root, or the delegated cgroup) and in the parent. Only missing ones are written: a root cgroup that holds processes
    /// (inside a container) refuses new controllers with EBUSY even when they are already on.
    /// </summary>
    public void CreateParents()
    {
        foreach (var (hierarchy, parent) in layout.Hierarchies.Zip(ParentDirectories))
        {
            if (hierarchy.Version == 2)
                EnableControllers(layout.RootIn(hierarchy));
            CgroupFs.CreateDirectory(parent, existOk: true);
            if (hierarchy.Version == 2)
                EnableControllers(parent);
        }
    }

    /// <summary>Removes the (empty) parents; call after every sandbox cgroup is destroyed.</summary>
    public void RemoveParents()
    {
        foreach (var parent in ParentDirectories)
            CgroupFs.RemoveDirectory(parent, options.KillTimeout);
    }

    private void EnableControllers(string dir)
    {
        string file = Path.Combine(dir, "cgroup.subtree_control");
        var enabled = CgroupFs.Read(file).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var available = CgroupFs.Read(Path.Combine(dir, "cgroup.controllers")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // The write would fail with a bare ENOENT: say which controller and whose job it is.
        if (layout.V2Controllers.Except(available).ToList() is { Count: > 0 } missing)
            throw new InvalidOperationException(
                $"cgroup {dir} cannot give {string.Join(", ", missing)} to its children: its parent does not enable them (cgroup.controllers: {string.Join(" ", available)}). "
                + "Under systemd, Delegate=yes on thawd's unit delegates them.");
        foreach (var controller in layout.V2Controllers.Except(enabled))
            CgroupFs.Write(file, "+" + controller);
    }
}
