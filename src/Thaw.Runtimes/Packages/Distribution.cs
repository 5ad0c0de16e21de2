namespace Thaw.Runtimes.Packages;

/// <summary>
/// One installable or installed version of a package: a wheel in the wheelhouse (installed into
/// the cache on first use) or a package of the base image (used as it is, from dist-packages).
/// </summary>
public sealed record Distribution(string Name, string Version, IReadOnlyList<Requirement> Requires, string? WheelPath)
{
    public string Key => Requirement.Normalize(Name);

    /// <summary>The base image's own (Debian's python3-*): nothing to install.</summary>
    public bool IsSystem => WheelPath is null;

    /// <summary>Its directory in the install cache (and under /packages in a sandbox).</summary>
    public string DirName => $"{Key}-{Version}";

    public override string ToString() => $"{Name}=={Version}";
}
