namespace Thaw.Service.Deploy;

/// <summary>
/// Unpacks a function's deploy archive (.tar.gz or .zip of its directory) into the code store,
/// refusing whatever could reach outside it: paths that climb out, symlinks that point out or are
/// written through, hard links, device nodes, fifos, and archives that unpack past the limits.
/// Modes and owners from the archive are not kept: directories are 0755, files 0644 or 0755, all
/// owned by thawd's user.
/// </summary>
public static class FunctionArchive
{
    private static ReadOnlySpan<byte> GzipMagic => [0x1f, 0x8b];

    private static ReadOnlySpan<byte> ZipMagic => "PK\x03\x04"u8;

    private static ReadOnlySpan<byte> EmptyZipMagic => "PK\x05\x06"u8;

    /// <summary>
    /// Unpacks <paramref name="archive"/> into <paramref name="destination"/>, an existing empty
    /// directory. On an <see cref="ArchiveException"/> the destination holds whatever was written up
    /// to the first violation; the caller deletes it.
    /// </summary>
    /// <exception cref="ArchiveException">The archive is refused; the message says why, for the user.</exception>
    /// <remarks>For streams that are not request bodies (files, memory): the same path as <see cref="ExtractAsync"/>, waited for.</remarks>
    public static ArchiveSummary Extract(Stream archive, string destination, FunctionArchiveOptions options) =>
        ExtractAsync(archive, destination, options).GetAwaiter().GetResult();

    /// <summary>
    /// <see cref="Extract"/> for a request body, which Kestrel only reads asynchronously. The body is
    /// read asynchronously into the buffer; unpacking, which is file work, is then done in place.
    /// </summary>
    public static async Task<ArchiveSummary> ExtractAsync(Stream archive, string destination, FunctionArchiveOptions options, CancellationToken cancellationToken = default)
    {
        CheckArguments(archive, destination, options);
        var buffer = await ArchiveBuffer.ReadAsync(archive, options, cancellationToken).ConfigureAwait(false);
        // Unpacking is synchronous file work: not on the I/O thread the last read may have completed
        // on (Kestrel runs requests inline on its I/O threads; inline socket completions likewise).
        await Task.Yield();
        await using (buffer.ConfigureAwait(false))
            return ExtractBuffered(buffer, destination, options);
    }

    private static void CheckArguments(Stream archive, string destination, FunctionArchiveOptions options)
    {
        ArgumentNullException.ThrowIfNull(archive);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        // The extraction's record of what is a directory, file or symlink starts empty: so must the directory.
        if (!Directory.Exists(destination) || Directory.EnumerateFileSystemEntries(destination).Any())
            throw new ArgumentException($"{destination} must be an existing empty directory", nameof(destination));
    }

    private static ArchiveSummary ExtractBuffered(FileStream buffer, string destination, FunctionArchiveOptions options)
    {
        try
        {
            return IsTarGz(buffer)
                ? TarGzExtractor.Extract(buffer, destination, options)
                : ZipExtractor.Extract(buffer, destination, options);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
        {
            // What the gzip, tar and zip readers throw on bad input. Other IOExceptions (a full disk) are thawd's.
            throw new ArchiveException($"corrupt archive: {e.Message}", innerException: e);
        }
        catch (NotSupportedException e)
        {
            // A zip entry compressed or encrypted in a way .NET does not read.
            throw new ArchiveException($"unsupported archive: {e.Message}", innerException: e);
        }
    }

    /// <summary>Tells the format from the first bytes; a client's content type is not trusted.</summary>
    private static bool IsTarGz(FileStream buffer)
    {
        Span<byte> magic = stackalloc byte[4];
        int n = buffer.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false);
        buffer.Position = 0;
        magic = magic[..n];
        if (n == 0 || magic.SequenceEqual(EmptyZipMagic))
            throw new ArchiveException("empty archive");
        if (magic.StartsWith(GzipMagic))
            return true;
        if (magic.SequenceEqual(ZipMagic))
            return false;
        throw new ArchiveException("not a .tar.gz or .zip archive");
    }
}
