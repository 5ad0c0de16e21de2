using Thaw.Linux.Cgroups;

namespace Thaw.Resources.Cgroups;

/// <summary>
/// Which hierarchy holds each controller Thaw uses, and so in which mounts a sandbox cgroup needs a
/// directory: four on this v1 dev machine (memory, cpu, pids, freezer), one on a pure v2 host.
/// </summary>
public sealed class CgroupLayout
{
    /// <summary>Without these a sandbox is unbounded, so the pool refuses to start.</summary>
    public static readonly IReadOnlyList<string> RequiredControllers = ["memory", "cpu", "pids"];

    private CgroupLayout(CgroupController memory, CgroupController cpu, CgroupController pids, CgroupController? freezer, CgroupPlacement placement)
    {
        Placement = placement;
        Memory = memory;
        Cpu = cpu;
        Pids = pids;
        Freezer = freezer;
        Hierarchies = [.. new[] { memory, cpu, pids, freezer }.OfType<CgroupController>().DistinctBy(c => c.MountPath)];
    }

    /// <summary>Where the instance's tree goes in each hierarchy: an own subtree or a delegated cgroup.</summary>
    public CgroupPlacement Placement { get; }

    /// <summary>The directory the instance's "&lt;instance&gt;" tree goes under in <paramref name="hierarchy"/>.</summary>
    public string RootIn(CgroupController hierarchy) => Placement.RootIn(hierarchy);

    public CgroupController Memory { get; }

    public CgroupController Cpu { get; }

    public CgroupController Pids { get; }

    /// <summary>Null when the host cannot freeze: no v1 freezer and none of Thaw's controllers on v2.</summary>
    public CgroupController? Freezer { get; }

    /// <summary>One entry per distinct mount a sandbox cgroup lives in.</summary>
    public IReadOnlyList<CgroupController> Hierarchies { get; }

    /// <summary>Controllers on cgroup2, which the parent must enable in cgroup.subtree_control for its children.</summary>
    public IReadOnlyList<string> V2Controllers =>
        [.. new[] { Memory, Cpu, Pids }.Where(c => c.Version == 2).Select(c => c.Name)];

    /// <summary>
    /// Picks the hierarchies; throws one message if memory, cpu or pids is missing. Without a
    /// <paramref name="placement"/> the tree goes in a subtree of its own at each mount's root.
    /// </summary>
    public static CgroupLayout From(CgroupHierarchy hierarchy, CgroupPlacement? placement = null)
    {
        hierarchy.ThrowIfMissing([.. RequiredControllers]);
        var memory = hierarchy.Find("memory")!;
        var cpu = hierarchy.Find("cpu")!;
        var pids = hierarchy.Find("pids")!;
        // v2 freezing is core (cgroup.freeze), not a controller: available wherever the sandbox
        // already has a v2 directory. Prefer it, since the processes are certainly in that tree.
        var v2 = new[] { memory, cpu, pids }.FirstOrDefault(c => c.Version == 2);
        var freezer = v2 is null ? hierarchy.Find("freezer") : new CgroupController("freezer", v2.MountPath, 2);
        return new CgroupLayout(memory, cpu, pids, freezer, placement ?? CgroupPlacement.OwnSubtree("not asked to look for a delegated cgroup"));
    }

    public override string ToString() =>
        $"memory {Memory.MountPath} (v{Memory.Version}), cpu {Cpu.MountPath} (v{Cpu.Version}), pids {Pids.MountPath} (v{Pids.Version}), "
        + (Freezer is null ? "no freezer" : $"freezer {Freezer.MountPath} (v{Freezer.Version})") + "; " + Placement;
}
