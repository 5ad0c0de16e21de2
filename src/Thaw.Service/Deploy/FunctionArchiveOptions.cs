namespace Thaw.Service.Deploy;

/// <summary>Limits on a deploy archive, so that one request cannot fill thawd's memory or disk.</summary>
public sealed class FunctionArchiveOptions
{
    /// <summary>
    /// The largest body accepted, as sent (compressed). Checked while the body is read, so a client
    /// that sends more is cut off at this size rather than after uploading it all. 64 MiB by default.
    /// </summary>
    public long MaxArchiveBytes { get; set; } = 64L << 20;

    /// <summary>
    /// The most bytes of regular files the archive may unpack to, counted as they are written, not
    /// taken from the sizes the archive declares: a gzip bomb stops here. 256 MiB by default.
    /// </summary>
    public long MaxUnpackedBytes { get; set; } = 256L << 20;

    /// <summary>The most entries (files, directories, symlinks) an archive may hold. 10,000 by default.</summary>
    public int MaxEntries { get; set; } = 10_000;

    /// <summary>
    /// The longest entry name or symlink target, in characters. 1024 by default: deep enough for any
    /// real function, well under Linux's PATH_MAX of 4096 once joined to the code store's path.
    /// </summary>
    public int MaxPathLength { get; set; } = 1024;

    /// <summary>
    /// Where the body is kept while it is read and unpacked (a request body cannot be read twice, and
    /// both formats need a second look). The file is unlinked as soon as it is open. The system's
    /// temp directory by default.
    /// </summary>
    public string BufferDirectory { get; set; } = Path.GetTempPath();

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first limit that makes no sense.</summary>
    public void Validate()
    {
        if (MaxArchiveBytes <= 0)
            throw new ArgumentException($"FunctionArchiveOptions.MaxArchiveBytes must be positive (was {MaxArchiveBytes})");
        if (MaxUnpackedBytes <= 0)
            throw new ArgumentException($"FunctionArchiveOptions.MaxUnpackedBytes must be positive (was {MaxUnpackedBytes})");
        if (MaxEntries <= 0)
            throw new ArgumentException($"FunctionArchiveOptions.MaxEntries must be positive (was {MaxEntries})");
        if (MaxPathLength is <= 0 or > 4096)
            throw new ArgumentException($"FunctionArchiveOptions.MaxPathLength must be 1 to 4096 (was {MaxPathLength})");
        if (!Directory.Exists(BufferDirectory))
            throw new ArgumentException($"FunctionArchiveOptions.BufferDirectory {BufferDirectory} does not exist");
    }
}
