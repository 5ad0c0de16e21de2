using System.IO.Compression;
using System.Text;

namespace Thaw.Service.Deploy;

/// <summary>
/// A .zip: the central directory is the scan, then each entry is written. Unix types and modes come
/// from the high half of the external attributes, where Info-ZIP and .NET put st_mode; a zip made
/// on Windows has none there and its entries are plain files.
/// </summary>
internal static class ZipExtractor
{
    public const string Format = "zip";

    private const int S_IFMT = 0xF000;
    private const int S_IFREG = 0x8000;
    private const int S_IFDIR = 0x4000;
    private const int S_IFLNK = 0xA000;
    private const int S_IFCHR = 0x2000;
    private const int S_IFBLK = 0x6000;
    private const int S_IFIFO = 0x1000;
    private const int AnyExecute = 0b001_001_001;

    public static ArchiveSummary Extract(Stream buffer, string destination, FunctionArchiveOptions options)
    {
        using var zip = new ZipArchive(buffer, ZipArchiveMode.Read, leaveOpen: true);
        var scan = new ArchiveScan(options);
        foreach (var entry in zip.Entries)
            scan.Add(Name(entry), Kind(entry), entry.Length);
        if (scan.Entries == 0)
            throw new ArchiveException("empty archive");

        var tree = new ExtractionTree(destination, scan.TopLevelDirectory(), options);
        foreach (var entry in zip.Entries)
        {
            switch (Kind(entry))
            {
                case EntryKind.File:
                    using (var data = entry.Open())
                        tree.AddFile(Name(entry), data, (Mode(entry) & AnyExecute) != 0);
                    break;
                case EntryKind.Directory:
                    tree.AddDirectory(Name(entry));
                    break;
                case EntryKind.Symlink:
                    tree.AddSymlink(Name(entry), LinkTarget(entry, options));
                    break;
            }
        }
        return tree.Finish(Format);
    }

    /// <summary>Backslashes as separators: zips from old Windows tools use them, and a Linux name with one is rare.</summary>
    private static string Name(ZipArchiveEntry entry) => entry.FullName.Replace('\\', '/');

    private static int Mode(ZipArchiveEntry entry) => (entry.ExternalAttributes >> 16) & 0xFFFF;

    private static EntryKind Kind(ZipArchiveEntry entry)
    {
        int type = Mode(entry) & S_IFMT;
        if (type == S_IFLNK)
            return EntryKind.Symlink;
        if (type == S_IFDIR || Name(entry).EndsWith('/'))
            return EntryKind.Directory;
        return type switch
        {
            0 or S_IFREG => EntryKind.File,
            S_IFCHR or S_IFBLK => throw ArchiveException.Entry(entry.FullName, "device nodes are not allowed"),
            S_IFIFO => throw ArchiveException.Entry(entry.FullName, "fifos are not allowed"),
            _ => throw ArchiveException.Entry(entry.FullName, "special files are not allowed"),
        };
    }

    /// <summary>A zip symlink keeps its target as the entry's data; read no more of it than a path can be.</summary>
    private static string LinkTarget(ZipArchiveEntry entry, FunctionArchiveOptions options)
    {
        using var data = entry.Open();
        var bytes = new byte[(options.MaxPathLength * 4) + 1];      // UTF-8 takes up to 4 bytes a character
        int length = data.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
        if (length == bytes.Length)
            throw ArchiveException.Entry(entry.FullName, $"the symlink's target is longer than {options.MaxPathLength} characters");
        return Encoding.UTF8.GetString(bytes, 0, length);
    }
}
