namespace Thaw.Service.Deploy;

/// <summary>
/// The first look at an archive, before anything is written: counts entries and declared sizes,
/// checks every name, and finds the single top-level directory to strip. Refusing here leaves the
/// destination untouched; the sizes are checked again, as written, by <see cref="ExtractionTree"/>.
/// </summary>
internal sealed class ArchiveScan(FunctionArchiveOptions options)
{
    private readonly List<(string[] Segments, bool IsDirectory)> _names = [];
    private long _declaredBytes;
    private int _headers;

    /// <summary>Entries that become something in the function's directory.</summary>
    public int Entries => _names.Count;

    public void Add(string name, EntryKind kind, long declaredBytes)
    {
        CountHeader();
        if (kind == EntryKind.File)
        {
            _declaredBytes += declaredBytes;
            if (_declaredBytes > options.MaxUnpackedBytes)
                throw ArchiveException.Limit($"the archive unpacks to more than {ArchiveException.Size(options.MaxUnpackedBytes)}");
        }
        _names.Add((EntryName.Split(name, options), kind == EntryKind.Directory));
    }

    /// <summary>An entry that is only metadata (a pax global header): nothing is made of it, but it counts, as reading it costs.</summary>
    public void CountHeader()
    {
        if (++_headers > options.MaxEntries)
            throw ArchiveException.Limit($"the archive has more than {options.MaxEntries} entries");
    }

    /// <summary>
    /// The directory everything sits in, when there is exactly one and nothing beside it: what
    /// <c>tar czf hello.tgz hello/</c> or zipping the folder itself makes. Stripped so thaw.toml lands at
    /// the top whether the user archived the directory or its contents.
    /// </summary>
    public string? TopLevelDirectory()
    {
        string? top = null;
        foreach (var (segments, isDirectory) in _names)
        {
            if (segments.Length == 0)
                continue;                       // "./" itself
            if (segments.Length == 1 && !isDirectory)
                return null;                    // a file or link at the top: these are the contents
            if (top is null)
                top = segments[0];
            else if (!string.Equals(top, segments[0], StringComparison.Ordinal))
                return null;
        }
        return top;
    }
}
