using System.Formats.Tar;
using System.IO.Compression;

namespace Thaw.Service.Deploy;

/// <summary>A .tar.gz, read twice from the buffer: once to check and scan names, once to write.</summary>
internal static class TarGzExtractor
{
    public const string Format = "tar.gz";

    /// <summary>
    /// Room in the inflated stream beyond the files' own bytes, per entry: its 512-byte header, up to
    /// 511 bytes of padding, and pax or GNU records for long names and extended attributes (macOS
    /// tar writes a few KiB of those). What passes this is metadata nobody writes by hand.
    /// </summary>
    private const long OverheadPerEntry = 8 << 10;

    /// <summary>Room for the end-of-archive blocks: tar pads to its record size, 10 KiB by default, more with -b.</summary>
    private const long TrailerBytes = 1 << 20;

    public static ArchiveSummary Extract(Stream buffer, string destination, FunctionArchiveOptions options)
    {
        var scan = new ArchiveScan(options);
        Read(buffer, options, toEnd: true, entry =>
        {
            if (Kind(entry) is { } kind)
                scan.Add(entry.Name, kind, entry.Length);
            else
                scan.CountHeader();
        });
        if (scan.Entries == 0)
            throw new ArchiveException("empty archive");

        var tree = new ExtractionTree(destination, scan.TopLevelDirectory(), options);
        Read(buffer, options, toEnd: false, entry =>
        {
            switch (Kind(entry))
            {
                case EntryKind.File:
                    tree.AddFile(entry.Name, entry.DataStream, IsExecutable(entry.Mode));
                    break;
                case EntryKind.Directory:
                    tree.AddDirectory(entry.Name);
                    break;
                case EntryKind.Symlink:
                    tree.AddSymlink(entry.Name, entry.LinkName);
                    break;
            }
        });
        return tree.Finish(Format);
    }

    private static void Read(Stream buffer, FunctionArchiveOptions options, bool toEnd, Action<TarEntry> onEntry)
    {
        buffer.Position = 0;
        long limit = options.MaxUnpackedBytes + ((options.MaxEntries + 1L) * OverheadPerEntry) + TrailerBytes;
        using var gzip = new GZipStream(buffer, CompressionMode.Decompress, leaveOpen: true);
        using var inflated = new LimitedReadStream(gzip, limit, () =>
            ArchiveException.Limit($"the archive unpacks to more than {ArchiveException.Size(options.MaxUnpackedBytes)}"));
        using var reader = new TarReader(inflated, leaveOpen: true);
        while (reader.GetNextEntry() is { } entry)
            onEntry(entry);
        // The tar ends before the gzip does: read on to the gzip trailer so that a body cut short or
        // damaged is refused in the scan, before anything is written.
        if (toEnd)
            inflated.CopyTo(Stream.Null);
    }

    /// <summary>What the entry becomes; null for metadata to skip. Hard links, devices and fifos are refused.</summary>
    private static EntryKind? Kind(TarEntry entry) => entry.EntryType switch
    {
        TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile => EntryKind.File,
        TarEntryType.Directory => EntryKind.Directory,
        TarEntryType.SymbolicLink => EntryKind.Symlink,
        TarEntryType.GlobalExtendedAttributes => null,     // git archive's commit id: about the archive, not a file in it
        TarEntryType.HardLink => throw ArchiveException.Entry(entry.Name, "hard links are not allowed"),
        TarEntryType.CharacterDevice or TarEntryType.BlockDevice => throw ArchiveException.Entry(entry.Name, "device nodes are not allowed"),
        TarEntryType.Fifo => throw ArchiveException.Entry(entry.Name, "fifos are not allowed"),
        _ => throw ArchiveException.Entry(entry.Name, $"entries of type {entry.EntryType} are not supported"),
    };

    private static bool IsExecutable(UnixFileMode mode) =>
        (mode & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
}
