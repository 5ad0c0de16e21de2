namespace Thaw.Runtimes.Packages;

/// <summary>Where packages come from and where they are installed.</summary>
public sealed class InstallCacheOptions
{
    /// <summary>The cache: one directory per name-version, bound read-only at /packages in every sandbox.</summary>
    public required string Root { get; init; }

    /// <summary>A local directory of wheels (pip's --find-links); no index is reachable on these machines.</summary>
    public string? Wheelhouse { get; init; }

    /// <summary>
    /// A package index (PEP 503 "simple" API, e.g. a devpi or an internal mirror), asked for what the
    /// wheelhouse lacks. Only thawd talks to it; installs stay offline in their sandbox.
    /// </summary>
    public string? IndexUrl { get; init; }

    /// <summary>The base image's packages, usable as they are (Debian's python3-numpy, python3-pil).</summary>
    public IReadOnlyList<string> SystemPackages { get; init; } = ["/usr/lib/python3/dist-packages"];

    /// <summary>An installer sandbox's limits.</summary>
    public long InstallMemoryBytes { get; init; } = 512L << 20;

    public TimeSpan InstallTimeout { get; init; } = TimeSpan.FromMinutes(5);
}
