using Thaw.Linux.Cgroups;

namespace Thaw.Resources.Cgroups;

/// <summary>
/// Removes the cgroups a crashed instance of the same name left behind, so a restart begins from
/// nothing. Run before the pool is created. Every mount is swept, not only the ones the current
/// layout uses: an older build or a different host setup may have used others. In a delegated
/// cgroup only that cgroup is swept: nothing outside it is thawd's.
/// </summary>
public static class CgroupRecovery
{
    /// <summary>
    /// Kills what runs inside and removes every "&lt;CgroupName&gt;" tree below <paramref name="roots"/>
    /// (null: every mount's root); returns the directories removed.
    /// </summary>
    public static IReadOnlyList<string> Sweep(ThawNaming naming, CgroupHierarchy hierarchy, TimeSpan? timeout = null, IReadOnlyList<string>? roots = null)
    {
        ArgumentNullException.ThrowIfNull(naming);
        ArgumentNullException.ThrowIfNull(hierarchy);
        var limit = timeout ?? TimeSpan.FromSeconds(5);
        // Deepest first, so each rmdir meets an already-empty directory.
        var trees = (roots ?? hierarchy.MountPaths)
            .Select(root => Path.Combine(root, naming.CgroupName))
            .Where(Directory.Exists)
            .Select(tree => Directory.EnumerateDirectories(tree, "*", SearchOption.AllDirectories)
                .OrderByDescending(d => d.Count(c => c == '/')).Append(tree).ToList())
            .ToList();
        var all = trees.SelectMany(t => t).ToList();

        // Signal everything before thawing anything: a v1-frozen task dies only once thawed, and
        // the same process sits in every hierarchy's tree.
        foreach (var dir in all)
            CgroupFs.KillProcs(dir);
        foreach (var dir in all)
            Thaw(dir);

        var removed = new List<string>();
        foreach (var dir in all)
        {
            if (!CgroupFs.KillAll(dir, limit))
                throw new InvalidOperationException($"cgroup recovery: processes {string.Join(",", CgroupFs.ReadProcs(dir))} in {dir} survived SIGKILL for {limit.TotalSeconds:0.#} s");
            CgroupFs.RemoveDirectory(dir, limit);
            removed.Add(dir);
        }
        return removed;
    }

    private static void Thaw(string dir)
    {
        if (File.Exists(Path.Combine(dir, "freezer.state")))
            CgroupFs.Write(Path.Combine(dir, "freezer.state"), "THAWED");
        else if (File.Exists(Path.Combine(dir, "cgroup.freeze")))
            CgroupFs.Write(Path.Combine(dir, "cgroup.freeze"), "0");
    }
}
