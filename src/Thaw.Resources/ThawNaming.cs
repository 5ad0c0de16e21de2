namespace Thaw.Resources;

/// <summary>
/// Where and under which names an instance of Thaw keeps its kernel objects. Everything Thaw
/// creates carries the instance name (which starts with "thaw") so leaks are visible, and the
/// recovery sweep finds exactly what this instance made: tests run instances side by side.
/// </summary>
public sealed class ThawNaming
{
    /// <summary>Longest instance name: veth names (name + "v" + 6 hex digits) must fit IFNAMSIZ−1 = 15.</summary>
    public const int MaxNameLength = 8;

    public ThawNaming(string name, string stateDir)
    {
        if (!name.StartsWith("thaw", StringComparison.Ordinal) || name.Length > MaxNameLength
            || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)))
            throw new ArgumentException($"instance name '{name}' must start with 'thaw', use a-z0-9 only and be at most {MaxNameLength} characters");
        if (!Path.IsPathFullyQualified(stateDir))
            throw new ArgumentException($"state dir '{stateDir}' must be an absolute path");
        Name = name;
        StateDir = Path.TrimEndingDirectorySeparator(stateDir);
    }

    public string Name { get; }

    public string StateDir { get; }

    /// <summary>Pinned network namespaces: one bind-mounted ns file each.</summary>
    public string NetnsDir => Path.Combine(StateDir, "netns");

    /// <summary>Sandbox root directories (each a small read-only tmpfs with bind mounts inside).</summary>
    public string RootsDir => Path.Combine(StateDir, "roots");

    /// <summary>The host bridge of bridge-mode namespaces.</summary>
    public string BridgeName => Name + "0";

    /// <summary>Host-side veth names: prefix + hex id.</summary>
    public string VethPrefix => Name + "v";

    public string VethName(int id) => VethPrefix + id.ToString("x", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The cgroup directory (in every hierarchy Thaw uses) that holds this instance's cgroups.</summary>
    public string CgroupName => Name;
}
