using System.Globalization;
using System.Text.RegularExpressions;

namespace Thaw.Service.Registry;

/// <summary>
/// The extracted code of deployed functions, one directory per version: <c>&lt;stateDir&gt;/functions/&lt;name&gt;/&lt;version&gt;</c>.
/// </summary>
/// <remarks>
/// A deploy extracts into a staging dir and <see cref="Commit"/> renames it into place, so a
/// version directory is always complete: rename(2) within one filesystem is atomic, and staging
/// lives under the same root to guarantee that. A crash between extract and commit (or between
/// commit and the registry's write) leaves only staging dirs and unreferenced versions, which
/// <see cref="Sweep"/> removes at the next start. Names arrive validated by the deploy, but every
/// path is checked again here because this is where a name becomes a path.
/// </remarks>
public sealed partial class CodeStore
{
    private const string StagingDirName = ".staging";

    private readonly string _staging;

    public CodeStore(string stateDir)
    {
        Root = Path.Combine(Path.GetFullPath(stateDir), "functions");
        _staging = Path.Combine(Root, StagingDirName);
        Directory.CreateDirectory(_staging);
    }

    /// <summary>The store's root, <c>&lt;stateDir&gt;/functions</c>.</summary>
    public string Root { get; }

    /// <summary>A fresh, empty directory for a deploy to extract an archive into.</summary>
    public string NewStaging()
    {
        string dir = Path.Combine(_staging, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Renames a staging dir to <c>&lt;root&gt;/&lt;name&gt;/&lt;version&gt;</c> atomically and returns that path.</summary>
    /// <exception cref="IOException">The version directory exists already (version numbers are never reused).</exception>
    public string Commit(string staging, string name, int version)
    {
        string source = Path.TrimEndingDirectorySeparator(Path.GetFullPath(staging));
        if (Path.GetDirectoryName(source) != _staging || !Directory.Exists(source))
            throw new ArgumentException($"'{staging}' is not a staging dir of {Root}.", nameof(staging));
        string target = VersionDir(name, version);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        // Directory.Move is rename(2) on Linux and refuses an existing target rather than merging.
        Directory.Move(source, target);
        return target;
    }

    /// <summary>Deletes one version's directory, if it is there, and the function's once no version is left in it.</summary>
    public void Remove(string name, int version)
    {
        Discard(VersionDir(name, version));
        RemoveIfEmpty(NameDir(name));
    }

    /// <summary>Deletes every version of a function.</summary>
    public void RemoveAll(string name) => Discard(NameDir(name));

    /// <summary>
    /// Deletes every staging dir and every version dir not in <paramref name="keep"/>, returning the
    /// paths removed. Call it at start, before deploys run: an in-flight deploy's staging dir would go too.
    /// </summary>
    public IReadOnlyList<string> Sweep(IEnumerable<(string Name, int Version)> keep)
    {
        var kept = keep.Select(k => VersionDir(k.Name, k.Version)).ToHashSet(StringComparer.Ordinal);
        var removed = new List<string>();
        foreach (string dir in Directory.EnumerateDirectories(_staging))
        {
            Directory.Delete(dir, recursive: true);
            removed.Add(dir);
        }
        foreach (string nameDir in Directory.EnumerateDirectories(Root))
        {
            // Only what this store would have made: a stranger's files under the root are left as they are.
            if (!NamePattern().IsMatch(Path.GetFileName(nameDir)))
                continue;
            foreach (string versionDir in Directory.EnumerateDirectories(nameDir))
            {
                if (!IsVersion(Path.GetFileName(versionDir)) || kept.Contains(versionDir))
                    continue;
                Discard(versionDir);
                removed.Add(versionDir);
            }
            RemoveIfEmpty(nameDir);
        }
        return removed;
    }

    private static void RemoveIfEmpty(string dir)
    {
        if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any())
            Directory.Delete(dir);
    }

    /// <summary>Throws unless <paramref name="name"/> is a function name that is safe as a single path component.</summary>
    public static void ValidateName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!NamePattern().IsMatch(name))
            throw new ArgumentException($"'{name}' is not a valid function name (want {NamePattern()}).", nameof(name));
    }

    private string NameDir(string name)
    {
        ValidateName(name);
        return Path.Combine(Root, name);
    }

    private string VersionDir(string name, int version)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        return Path.Combine(NameDir(name), version.ToString(CultureInfo.InvariantCulture));
    }

    // Renamed into staging before the recursive delete, so a crash halfway through leaves a
    // staging dir for Sweep, never a half-deleted version under a path the registry may name.
    private void Discard(string dir)
    {
        string trash = Path.Combine(_staging, Guid.NewGuid().ToString("N"));
        try
        {
            Directory.Move(dir, trash);
        }
        catch (DirectoryNotFoundException)
        {
            return;
        }
        Directory.Delete(trash, recursive: true);
    }

    private static bool IsVersion(string s) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v >= 1
        && s == v.ToString(CultureInfo.InvariantCulture);

    // [a-z] first would match the manifest's rule; digits are allowed here too because this check
    // guards paths, not naming policy: no '.', '/', upper case or leading '-' or '_' can get through.
    [GeneratedRegex(@"^[a-z0-9][a-z0-9_-]{0,62}\z")] // \z, not $: $ would let a trailing newline through
    private static partial Regex NamePattern();
}
