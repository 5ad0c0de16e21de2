using System.IO.Compression;

namespace Thaw.Runtimes.Packages;

/// <summary>
/// What can satisfy a requirement: the wheels of a local wheelhouse (their metadata read from
/// inside the .whl) and the base image's packages (dist-info or egg-info in dist-packages).
/// </summary>
public sealed class PackageIndex
{
    private readonly Dictionary<string, List<Distribution>> _byKey = [];
    private readonly HashSet<string> _asked = [];

    /// <summary>A package index (PEP 503 "simple" pages) asked for names the wheelhouse and the base image lack.</summary>
    public SimpleIndex? Remote { get; init; }

    public IReadOnlyList<Distribution> Candidates(string key)
    {
        if (Remote is not null && _asked.Add(key))
            foreach (var d in Remote.List(key))
                Add(d);
        return _byKey.TryGetValue(key, out var list) ? list : [];
    }

    /// <summary>The chosen distribution with its wheel local and its requirements read (a remote one is downloaded now).</summary>
    public Distribution Fetch(Distribution d) => d.WheelPath is { } url && Remote is not null && SimpleIndex.IsRemote(url)
        ? ReadWheel(Remote.Download(url)) ?? throw new PackageResolutionException($"{d} from {url} is not a wheel with metadata")
        : d;

    public IEnumerable<string> Keys => _byKey.Keys;

    public static PackageIndex Load(string? wheelhouse, IEnumerable<string> systemDirs, SimpleIndex? remote = null)
    {
        var index = new PackageIndex { Remote = remote };
        if (wheelhouse is not null && Directory.Exists(wheelhouse))
            foreach (var wheel in Directory.EnumerateFiles(wheelhouse, "*.whl"))
                if (ReadWheel(wheel) is { } d)
                    index.Add(d);
        foreach (var dir in systemDirs.Where(Directory.Exists))
            foreach (var entry in Directory.EnumerateFileSystemEntries(dir))
                if (ReadSystem(entry) is { } d)
                    index.Add(d);
        return index;
    }

    private void Add(Distribution d)
    {
        if (!_byKey.TryGetValue(d.Key, out var list))
            _byKey[d.Key] = list = [];
        list.Add(d);
    }

    /// <summary>A wheel's name, version and requirements, from its *.dist-info/METADATA; null if it has none.</summary>
    internal static Distribution? ReadWheel(string path)
    {
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var entry = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith(".dist-info/METADATA", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1);
            if (entry is null)
                return null;
            using var reader = new StreamReader(entry.Open());
            return FromMetadata(reader.ReadToEnd(), [], path);
        }
        catch (InvalidDataException)
        {
            return null; // not a zip: not a wheel
        }
    }

    /// <summary>An installed package of the base image: NAME-VER.dist-info/METADATA or NAME-VER.egg-info (file or dir).</summary>
    internal static Distribution? ReadSystem(string entry)
    {
        string name = Path.GetFileName(entry);
        if (name.EndsWith(".dist-info", StringComparison.Ordinal) && File.Exists(Path.Combine(entry, "METADATA")))
            return FromMetadata(File.ReadAllText(Path.Combine(entry, "METADATA")), [], null);
        if (!name.EndsWith(".egg-info", StringComparison.Ordinal))
            return null;
        if (File.Exists(entry))
            return FromMetadata(File.ReadAllText(entry), [], null);
        string pkgInfo = Path.Combine(entry, "PKG-INFO");
        if (!File.Exists(pkgInfo))
            return null;
        // requires.txt: plain requirements, then [extra] sections that a plain install skips.
        string requires = Path.Combine(entry, "requires.txt");
        var extra = File.Exists(requires)
            ? File.ReadLines(requires).TakeWhile(l => !l.TrimStart().StartsWith('[')).Where(l => l.Trim().Length > 0).ToList()
            : [];
        return FromMetadata(File.ReadAllText(pkgInfo), extra, null);
    }

    private static Distribution? FromMetadata(string metadata, IReadOnlyList<string> moreRequires, string? wheel)
    {
        string? name = null, version = null;
        var requires = new List<Requirement>();
        foreach (var line in metadata.Split('\n'))
        {
            if (line.Length == 0)
                break; // the headers end at the first blank line; the description follows
            if (line.StartsWith("Name:", StringComparison.Ordinal))
                name = line[5..].Trim();
            else if (line.StartsWith("Version:", StringComparison.Ordinal))
                version = line[8..].Trim();
            else if (line.StartsWith("Requires-Dist:", StringComparison.Ordinal) && TryParse(line[14..]) is { AppliesWithoutExtras: true } r)
                requires.Add(r);
        }
        foreach (var text in moreRequires)
            if (TryParse(text) is { AppliesWithoutExtras: true } r)
                requires.Add(r);
        return name is null || version is null ? null : new Distribution(name, version, requires, wheel);
    }

    private static Requirement? TryParse(string text)
    {
        try { return Requirement.Parse(text); }
        catch (FormatException) { return null; }
    }
}
