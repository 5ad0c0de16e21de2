namespace Thaw.Service.Deploy;

/// <summary>
/// Writes checked entries into the destination and keeps a record of what it wrote. The
/// destination starts empty, so the record is the whole tree: whether a path is a directory, a
/// file or a symlink is looked up there, never found by following anything on disk. Nothing is
/// written through a symlink, and symlinks are made last, once all of them are known to resolve
/// inside the function.
/// </summary>
internal sealed class ExtractionTree
{
    private const UnixFileMode DirectoryMode = (UnixFileMode)0b111_101_101;     // 0755
    private const UnixFileMode RegularMode = (UnixFileMode)0b110_100_100;       // 0644
    private const UnixFileMode ExecutableMode = (UnixFileMode)0b111_101_101;    // 0755

    private sealed record Node(EntryKind Kind, string EntryName, string? Target = null);

    private readonly Dictionary<string, Node> _nodes = new(StringComparer.Ordinal);
    private readonly string _root;
    private readonly string? _top;
    private readonly FunctionArchiveOptions _options;
    private readonly byte[] _chunk = new byte[81920];

    /// <param name="destination">An empty directory: the record starts empty too.</param>
    /// <param name="topLevelDirectory">The leading directory stripped from every name, if any.</param>
    /// <param name="options">The limits checked while writing.</param>
    public ExtractionTree(string destination, string? topLevelDirectory, FunctionArchiveOptions options)
    {
        _root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(destination));
        _top = topLevelDirectory;
        _options = options;
    }

    public int Files { get; private set; }

    public long UnpackedBytes { get; private set; }

    public void AddDirectory(string name)
    {
        var path = Relative(name);
        if (path.Length == 0)
            return;                             // the function's directory itself
        string key = EnsureParents(path, name);
        if (_nodes.TryGetValue(key, out var existing))
        {
            if (existing.Kind != EntryKind.Directory)
                throw ArchiveException.Entry(name, $"a directory cannot replace the {Describe(existing.Kind)} before it");
            return;
        }
        CreateDirectory(key, name);
    }

    public void AddFile(string name, Stream? data, bool executable)
    {
        var path = Relative(name);
        if (path.Length == 0)
            throw ArchiveException.Entry(name, "not a file name");
        string key = EnsureParents(path, name);
        string full = FullPath(key, name);
        if (_nodes.TryGetValue(key, out var existing))
        {
            if (existing.Kind != EntryKind.File)
                throw ArchiveException.Entry(name, $"a file cannot replace the {Describe(existing.Kind)} before it");
            File.Delete(full);                  // a later copy wins, as with tar -x
        }
        else
        {
            Files++;
        }
        _nodes[key] = new Node(EntryKind.File, name);
        Write(full, data, executable ? ExecutableMode : RegularMode);
    }

    public void AddSymlink(string name, string target)
    {
        var path = Relative(name);
        if (path.Length == 0)
            throw ArchiveException.Entry(name, "not a file name");
        if (target.Length == 0)
            throw ArchiveException.Entry(name, "the symlink has no target");
        if (target.Length > _options.MaxPathLength || target.Contains('\0', StringComparison.Ordinal))
            throw ArchiveException.Entry(name, $"the symlink's target is not a path of up to {_options.MaxPathLength} characters");
        string key = EnsureParents(path, name);
        if (_nodes.TryGetValue(key, out var existing))
        {
            if (existing.Kind == EntryKind.Directory)
                throw ArchiveException.Entry(name, "a symlink cannot replace the directory before it");
            if (existing.Kind == EntryKind.File)
                File.Delete(FullPath(key, name));
        }
        _nodes[key] = new Node(EntryKind.Symlink, name, target);
        CheckInside(key, name);                 // refuse the plain cases at once; Finish checks again with the whole tree
    }

    /// <summary>
    /// Checks every symlink against the finished tree (a link added later can change where an earlier
    /// one leads) and only then makes them.
    /// </summary>
    public ArchiveSummary Finish(string format)
    {
        foreach (var (key, node) in _nodes)
        {
            if (node.Kind == EntryKind.Symlink)
                CheckInside(key, node.EntryName);
        }
        foreach (var (key, node) in _nodes)
        {
            if (node.Kind == EntryKind.Symlink)
                File.CreateSymbolicLink(FullPath(key, node.EntryName), node.Target!);
        }
        return new ArchiveSummary(Files, UnpackedBytes, format);
    }

    private string[] Relative(string name)
    {
        var segments = EntryName.Split(name, _options);
        return _top is not null && segments.Length > 0 && string.Equals(segments[0], _top, StringComparison.Ordinal)
            ? segments[1..]
            : segments;
    }

    /// <summary>Makes the directories above <paramref name="path"/> that the archive did not list; returns its key.</summary>
    private string EnsureParents(string[] path, string name)
    {
        for (int depth = 1; depth < path.Length; depth++)
        {
            string parent = EntryName.Join(path.AsSpan(0, depth));
            if (!_nodes.TryGetValue(parent, out var node))
                CreateDirectory(parent, name);
            else if (node.Kind == EntryKind.Symlink)
                throw ArchiveException.Entry(name, $"it would be written through the symlink {ArchiveException.Quote(parent)}");
            else if (node.Kind == EntryKind.File)
                throw ArchiveException.Entry(name, $"{ArchiveException.Quote(parent)} is a file, not a directory");
        }
        return EntryName.Join(path);
    }

    private void CreateDirectory(string key, string name)
    {
        string full = FullPath(key, name);
        Directory.CreateDirectory(full, DirectoryMode);
        File.SetUnixFileMode(full, DirectoryMode);  // the umask may have taken bits; the archive's mode is not used
        _nodes[key] = new Node(EntryKind.Directory, name);
    }

    private void Write(string full, Stream? data, UnixFileMode mode)
    {
        // CreateNew is O_EXCL, which also refuses a symlink in the last place: a second guard behind the record.
        using var file = new FileStream(full, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = mode });
        File.SetUnixFileMode(file.SafeFileHandle, mode);   // the umask may have taken bits the sandbox's user needs
        if (data is null)
            return;
        int n;
        while ((n = data.Read(_chunk)) > 0)
        {
            UnpackedBytes += n;
            if (UnpackedBytes > _options.MaxUnpackedBytes)
                throw ArchiveException.Limit($"the archive unpacks to more than {ArchiveException.Size(_options.MaxUnpackedBytes)}");
            file.Write(_chunk, 0, n);
        }
    }

    /// <summary>The full path of <paramref name="key"/>, checked once more against the destination as the kernel will see it.</summary>
    private string FullPath(string key, string name)
    {
        string full = Path.GetFullPath(Path.Join(_root, key));
        if (!full.StartsWith(_root + "/", StringComparison.Ordinal))
            throw ArchiveException.Entry(name, "the path leads outside the function");
        return full;
    }

    private void CheckInside(string key, string name)
    {
        var outcome = SymlinkResolution.Resolve(key, path => _nodes.TryGetValue(path, out var n) && n.Kind == EntryKind.Symlink ? n.Target : null);
        if (outcome == SymlinkResolution.Outcome.Outside)
            throw ArchiveException.SymlinkOutside(name);
        if (outcome == SymlinkResolution.Outcome.Loop)
            throw ArchiveException.Entry(name, "the symlink leads round in a loop");
    }

    private static string Describe(EntryKind kind) => kind switch
    {
        EntryKind.Directory => "directory",
        EntryKind.Symlink => "symlink",
        _ => "file",
    };
}
