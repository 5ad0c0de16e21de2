using Thaw.Linux.Cgroups;

namespace Thaw.Resources.Cgroups;

/// <summary>
/// Removes the cgroups a crashed instance of the same name left behind, so a restart begins from
/// nothing. Run before the pool is created. Every mount is swept, not only the ones the current
/// layout uses: an older build or a different host setup may have used others.
/// </summary>
public static class CgroupRecovery
{
    /// <summary>Kills what runs inside and removes every "&lt;CgroupName&gt;" tree; returns the directories removed.</summary>
    public static IReadOnlyList<string> Sweep(ThawNaming naming, CgroupHierarchy hierarchy, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(naming);
        ArgumentNullException.ThrowIfNull(hierarchy);
        var limit = timeout ?? TimeSpan.FromSeconds(5);
        // Deepest first, so each rmdir meets an already-empty directory.
        var trees = hierarchy.MountPaths
            .Select(mount => Path.Combine(mount, naming.CgroupName))
            .Where(Directory.Exists)
            .Select(root => Directory.EnumerateDirectories(root, "*", SearchOption.AllDirectories)
                .OrderByDescending(d => d.Count(c => c == '/')).Append(root).ToList())
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
