using Thaw.Linux.Mounts;

namespace Thaw.Linux.Cgroups;

/// <summary>
/// Which cgroup controllers this host offers and where each one is mounted. Hosts differ: pure v2
/// (one unified tree), pure v1 (a mount per controller, some co-mounted such as "cpu,cpuacct") or
/// hybrid (v1 controllers plus a v2 tree that may hold none). So this is detected, never assumed.
/// </summary>
public sealed class CgroupHierarchy
{
    // Super options of a v1 cgroup mount that are flags, not controllers.
    private static readonly HashSet<string> V1Flags = new(StringComparer.Ordinal)
    {
        "rw", "ro", "none", "noprefix", "xattr", "clone_children", "cpuset_v2_mode", "favordynmods", "nofavordynmods",
    };

    private readonly Dictionary<string, CgroupController> _controllers;

    private CgroupHierarchy(Dictionary<string, CgroupController> controllers, string? unifiedMount)
    {
        _controllers = controllers;
        UnifiedMount = unifiedMount;
    }

    /// <summary>The cgroup2 mount point, if one is mounted (even one that holds no controller).</summary>
    public string? UnifiedMount { get; }

    /// <summary>Every controller found, by name.</summary>
    public IReadOnlyCollection<CgroupController> Controllers => _controllers.Values;

    /// <summary>Every distinct cgroup mount that holds at least one controller, plus the cgroup2 mount.</summary>
    public IReadOnlyList<string> MountPaths =>
        [.. _controllers.Values.Select(c => c.MountPath).Append(UnifiedMount).OfType<string>().Distinct().Order(StringComparer.Ordinal)];

    /// <summary>Reads /proc/self/mountinfo and each cgroup2 mount's root cgroup.controllers.</summary>
    public static CgroupHierarchy Detect() =>
        FromMounts(MountTable.Read().Entries, mount => File.ReadAllText(Path.Combine(mount, "cgroup.controllers")));

    /// <summary>Builds the view from a mount table; <paramref name="readV2Controllers"/> reads a v2 root's cgroup.controllers.</summary>
    public static CgroupHierarchy FromMounts(IEnumerable<MountEntry> mounts, Func<string, string> readV2Controllers)
    {
        var v1 = new Dictionary<string, CgroupController>(StringComparer.Ordinal);
        var v2 = new Dictionary<string, CgroupController>(StringComparer.Ordinal);
        string? unified = null;
        foreach (var mount in mounts)
        {
            if (mount.FsType == "cgroup")
            {
                // A hierarchy can be bind-mounted twice; the first mount is the canonical one.
                foreach (var option in mount.SuperOptionList.Where(IsV1Controller))
                    v1.TryAdd(option, new CgroupController(option, mount.MountPoint, 1));
            }
            else if (mount.FsType == "cgroup2" && unified is null)
            {
                unified = mount.MountPoint;
                foreach (var name in readV2Controllers(mount.MountPoint).Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries))
                    v2[name] = new CgroupController(name, mount.MountPoint, 2);
            }
        }
        // v2 wins only for controllers it really holds: a hybrid host's cgroup2 tree is often empty.
        foreach (var (name, controller) in v2)
            v1[name] = controller;
        return new CgroupHierarchy(v1, unified);
    }

    public CgroupController? Find(string controller) => _controllers.GetValueOrDefault(controller);

    /// <summary>Throws one message naming every missing controller and everything that was found.</summary>
    public void ThrowIfMissing(params string[] controllers)
    {
        var missing = controllers.Where(c => !_controllers.ContainsKey(c)).ToArray();
        if (missing.Length > 0)
            throw new InvalidOperationException(
                $"cgroup controller(s) missing: {string.Join(", ", missing)}. Found: {Describe()}");
    }

    /// <summary>A one-line summary for logs and error messages.</summary>
    public string Describe()
    {
        var found = _controllers.Values.OrderBy(c => c.Name, StringComparer.Ordinal).Select(c => c.ToString()).ToList();
        if (found.Count == 0)
            found.Add("no controllers");
        if (UnifiedMount is not null && !_controllers.Values.Any(c => c.Version == 2))
            found.Add($"empty cgroup2 at {UnifiedMount}");
        return string.Join(", ", found);
    }

    private static bool IsV1Controller(string option) =>
        !V1Flags.Contains(option) && !option.Contains('=', StringComparison.Ordinal);
}
