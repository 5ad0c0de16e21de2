namespace Thaw.Resources.Roots;

/// <summary>How the root pool builds sandbox roots. Defaults give a root made of the host's own OS.</summary>
public sealed class RootPoolOptions
{
    /// <summary>Names a sandbox root uses for itself; a base dir may not take one of them.</summary>
    internal static readonly string[] ReservedNames = ["tmp", "host", "dev", "proc", "handler", "packages"];

    /// <summary>How many roots to keep crafted ahead of claims.</summary>
    public int Size { get; set; } = 16;

    /// <summary>The OS tree the base dirs come from: the host ("/") or an unpacked rootfs directory.</summary>
    public string BaseRoot { get; set; } = "/";

    /// <summary>
    /// Top-level dirs of <see cref="BaseRoot"/> shared read-only with every sandbox. A symlink (merged
    /// /usr: /bin -> usr/bin) is recreated as the same symlink, a directory is bind-mounted, a missing
    /// one is skipped, so one list serves merged and split-/usr systems.
    /// </summary>
    public IList<string> BaseDirs { get; init; } = ["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];

    /// <summary>
    /// Entries of the base root's /etc a sandbox's /etc holds (<see cref="SandboxEtc"/>; with a passwd
    /// and a group of its own), or null to bind the base root's whole /etc (then list "etc" in
    /// <see cref="BaseDirs"/>).
    /// </summary>
    public IList<string>? Etc { get; init; } = [.. SandboxEtc.Default];

    /// <summary>Size limit of each sandbox's writable /tmp.</summary>
    public long TmpSizeBytes { get; set; } = 64L << 20;

    /// <summary>Size limit of each sandbox's writable /host (its sockets and files shared with thawd).</summary>
    public long HostSizeBytes { get; set; } = 64L << 20;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first setting that cannot work.</summary>
    public void Validate()
    {
        if (Size < 0)
            throw new ArgumentException($"RootPoolOptions.Size must be 0 or more (was {Size})");
        if (TmpSizeBytes <= 0)
            throw new ArgumentException($"RootPoolOptions.TmpSizeBytes must be positive (was {TmpSizeBytes})");
        if (HostSizeBytes <= 0)
            throw new ArgumentException($"RootPoolOptions.HostSizeBytes must be positive (was {HostSizeBytes})");
        if (string.IsNullOrEmpty(BaseRoot) || !Path.IsPathFullyQualified(BaseRoot))
            throw new ArgumentException($"RootPoolOptions.BaseRoot must be an absolute path (was '{BaseRoot}')");
        if (!Directory.Exists(BaseRoot))
            throw new ArgumentException($"RootPoolOptions.BaseRoot '{BaseRoot}' does not exist or is not a directory");
        foreach (var name in BaseDirs)
        {
            if (string.IsNullOrEmpty(name) || name.Contains('/') || name is "." or "..")
                throw new ArgumentException($"RootPoolOptions.BaseDirs entry '{name}' must be a single top-level directory name");
            if (ReservedNames.Contains(name))
                throw new ArgumentException($"RootPoolOptions.BaseDirs entry '{name}' is reserved for the sandbox's own {name} dir");
            if (name == "etc" && Etc is not null)
                throw new ArgumentException("RootPoolOptions.BaseDirs lists 'etc' while RootPoolOptions.Etc builds the sandbox's own: set Etc to null to bind the whole /etc");
        }
        foreach (var entry in Etc ?? [])
        {
            if (string.IsNullOrEmpty(entry) || Path.IsPathRooted(entry) || entry.Split('/').Any(part => part is "" or "." or ".."))
                throw new ArgumentException($"RootPoolOptions.Etc entry '{entry}' must be a relative path inside /etc");
        }
    }
}
