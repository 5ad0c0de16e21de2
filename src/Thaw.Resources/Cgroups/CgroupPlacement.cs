using Thaw.Linux.Cgroups;

namespace Thaw.Resources.Cgroups;

/// <summary>
/// Where an instance's cgroup tree goes. By default (v1, hybrid, thawd in the root cgroup or in one
/// nobody delegated to it) in a subtree of its own, "&lt;mount&gt;/&lt;instance&gt;", in every hierarchy. On a
/// pure cgroup2 host whose service manager delegated thawd's cgroup to it (systemd's Delegate=yes),
/// inside that cgroup and nowhere else, obeying cgroup2's no-internal-processes rule: a cgroup that
/// hands controllers to its children holds no processes itself, so thawd moves into a leaf beside
/// the sandboxes' tree:
/// <code>
/// thawd.service/                  delegated; subtree_control: cpu memory pids
///   thaw-daemon/                  thawd (every thread)
///   thaw/                         subtree_control: cpu memory pids
///     sb-1/ sb-2/ ...             sandboxes and zygotes
/// </code>
/// </summary>
public sealed class CgroupPlacement
{
    private CgroupPlacement(string? delegatedRoot, string? daemonLeaf, string reason)
    {
        DelegatedRoot = delegatedRoot;
        DaemonLeaf = daemonLeaf;
        Reason = reason;
    }

    /// <summary>A subtree of its own at each mount's root (what every host got before delegation was understood).</summary>
    public static CgroupPlacement OwnSubtree(string reason) => new(null, null, reason);

    /// <summary>thawd's delegated cgroup (a directory on the cgroup2 mount); null for an own subtree.</summary>
    public string? DelegatedRoot { get; }

    /// <summary>The leaf thawd's own process moves into, "&lt;delegated&gt;/&lt;instance&gt;-daemon"; null for an own subtree.</summary>
    public string? DaemonLeaf { get; }

    /// <summary>Why this placement was chosen, for the start-up log.</summary>
    public string Reason { get; }

    public bool IsDelegated => DelegatedRoot is not null;

    /// <summary>The directory the instance's "&lt;instance&gt;" tree goes under in hierarchy <paramref name="hierarchy"/>.</summary>
    public string RootIn(CgroupController hierarchy) =>
        DelegatedRoot is not null && hierarchy.Version == 2 ? DelegatedRoot : hierarchy.MountPath;

    /// <summary>Where a crashed predecessor's trees can be: only inside the delegated cgroup when there is one (nothing outside it is thawd's to touch).</summary>
    public IReadOnlyList<string> SweepRoots(CgroupHierarchy hierarchy) =>
        DelegatedRoot is not null ? [DelegatedRoot] : hierarchy.MountPaths;

    /// <summary>
    /// Decides for this process. Delegated only when memory, cpu and pids are all on one cgroup2
    /// mount, thawd's cgroup (from /proc/self/cgroup) is not that mount's root, and the cgroup is
    /// marked delegated or <paramref name="mode"/> says to use it anyway.
    /// </summary>
    public static CgroupPlacement Decide(CgroupHierarchy hierarchy, ThawNaming naming, CgroupDelegation mode)
    {
        ArgumentNullException.ThrowIfNull(hierarchy);
        ArgumentNullException.ThrowIfNull(naming);
        if (mode == CgroupDelegation.Ignore)
            return OwnSubtree("cgroup delegation is off (ignore)");
        var controllers = CgroupLayout.RequiredControllers.Select(hierarchy.Find).ToList();
        if (controllers.Any(c => c is null || c.Version != 2) || hierarchy.UnifiedMount is not { } mount)
            return OwnSubtree("not a pure cgroup2 host");
        if (CgroupMembership.UnifiedPath() is not { } path)
            return OwnSubtree("no cgroup2 line in /proc/self/cgroup");
        string own = Path.TrimEndingDirectorySeparator(mount + path);
        // Restarted from inside the leaf (a predecessor's child, a manual exec): the delegated cgroup is its parent.
        string leafName = naming.CgroupName + "-daemon";
        if (Path.GetFileName(own) == leafName)
            own = Path.GetDirectoryName(own)!;
        if (CgroupMembership.IsRoot(own))
            return OwnSubtree("thawd runs in the root cgroup");
        bool marked = CgroupMembership.IsMarkedDelegated(own);
        if (mode == CgroupDelegation.Auto && !marked)
            return OwnSubtree($"its cgroup {own} is not marked delegated (no trusted.delegate or user.delegate xattr; --cgroup-delegation use takes it anyway)");
        return new CgroupPlacement(own, Path.Combine(own, leafName), marked ? "marked delegated (Delegate=yes)" : "--cgroup-delegation use");
    }

    /// <summary>
    /// Moves every process of the delegated cgroup (thawd, and a wrapper that started it, if any)
    /// into the daemon leaf, so the cgroup can hand controllers to the sandboxes' tree. Dispose the
    /// result after every sandbox cgroup is gone: it moves them back and leaves the delegated cgroup
    /// as it was found. Nothing to do for an own subtree.
    /// </summary>
    public IDisposable Enter()
    {
        if (DelegatedRoot is null || DaemonLeaf is null)
            return new DaemonLeafStay(null, null, []);
        // A leaf that already exists was left by a predecessor killed with SIGKILL, and so were the
        // controllers it enabled: those are not what the service manager handed over.
        bool leftover = Directory.Exists(DaemonLeaf);
        string[] found = leftover ? [] : ReadSubtreeControl(DelegatedRoot);
        CgroupFs.CreateDirectory(DaemonLeaf, existOk: true);
        var procs = CgroupFs.ReadProcs(DelegatedRoot);
        // thawd first: were anything to fail, thawd itself must not be the process left behind.
        foreach (int pid in procs.Where(p => p == Environment.ProcessId).Concat(procs.Where(p => p != Environment.ProcessId)))
            CgroupFs.TryJoin(DaemonLeaf, pid);
        if (CgroupFs.ReadProcs(DelegatedRoot) is { Count: > 0 } stuck)
            throw new InvalidOperationException($"cgroup {DelegatedRoot}: processes {string.Join(",", stuck)} could not move into {DaemonLeaf}, so it cannot give controllers to sandboxes");
        return new DaemonLeafStay(DelegatedRoot, DaemonLeaf, found);
    }

    private static string[] ReadSubtreeControl(string dir) =>
        CgroupFs.Read(Path.Combine(dir, "cgroup.subtree_control")).Split(' ', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => DelegatedRoot is null
        ? $"own subtree at the mount root ({Reason})"
        : $"delegated {DelegatedRoot}, thawd in {Path.GetFileName(DaemonLeaf)} ({Reason})";

    /// <summary>thawd's stay in the daemon leaf; disposing it restores the delegated cgroup as found.</summary>
    private sealed class DaemonLeafStay(string? root, string? leaf, string[] found) : IDisposable
    {
        public void Dispose()
        {
            if (root is null || leaf is null)
                return;
            // Controllers off first: a cgroup with processes may not have any enabled for its children.
            foreach (var controller in ReadSubtreeControl(root).Except(found))
                CgroupFs.Write(Path.Combine(root, "cgroup.subtree_control"), "-" + controller);
            foreach (int pid in CgroupFs.ReadProcs(leaf))
                CgroupFs.TryJoin(root, pid);
            CgroupFs.RemoveDirectory(leaf, TimeSpan.FromSeconds(2));
        }
    }
}
