using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using Thaw.Runtimes.Functions;
using Thaw.Service.Deploy;

namespace Thaw.Cli.Client;

/// <summary>A function directory packed for thawd: the name it deploys as and its .tar.gz.</summary>
public sealed record PackedFunction(string Name, byte[] Archive, int Entries);

/// <summary>
/// Packs a function directory as `thaw deploy` sends it: a .tar.gz in memory whose entries are
/// relative to the directory (thaw.toml at the top). The manifest is read here first, so a bad one
/// fails before anything is sent, with the message thawd would give. Symlinks stay symlinks: thawd
/// decides whether they stay inside the function. Build output (__pycache__, *.pyc) and .git are left out.
/// </summary>
public static partial class FunctionPacker
{
    /// <summary>thawd's default limit on a deploy archive (`thaw serve --max-archive`): refused here rather than after the upload.</summary>
    public static long DefaultMaxBytes { get; } = new FunctionArchiveOptions().MaxArchiveBytes;

    /// <param name="dir">The function directory (its thaw.toml at the top).</param>
    /// <param name="name">Deploy under this name instead of thaw.toml's (the packed thaw.toml says it).</param>
    /// <param name="maxBytes">The largest archive (compressed) this packs.</param>
    public static PackedFunction Pack(string dir, string? name = null, long? maxBytes = null)
    {
        long limit = maxBytes ?? DefaultMaxBytes;
        string root = Path.GetFullPath(dir);
        if (!Directory.Exists(root))
            throw new DirectoryNotFoundException($"function directory '{dir}' does not exist");
        string manifestPath = Path.Combine(root, FunctionManifest.FileName);
        byte[]? manifestText = null;
        if (name is null)
            name = FunctionManifest.Load(root).Name;
        else
        {
            // Load's message for a directory without a manifest, then the renamed manifest checked as thawd will check it.
            if (!File.Exists(manifestPath))
                FunctionManifest.Load(root);
            string renamed = WithName(File.ReadAllText(manifestPath), name);
            FunctionManifest.Parse(renamed);
            string requirements = Path.Combine(root, FunctionManifest.RequirementsFileName);
            if (File.Exists(requirements))
                FunctionManifest.ParseRequirements(File.ReadAllLines(requirements));
            manifestText = Encoding.UTF8.GetBytes(renamed);
        }

        using var buffer = new MemoryStream();
        int entries = 0;
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (path, entryName, isManifest) in Entries(root))
            {
                if (isManifest && manifestText is not null)
                    tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, entryName)
                    {
                        Mode = File.GetUnixFileMode(path),
                        ModificationTime = File.GetLastWriteTimeUtc(path),
                        DataStream = new MemoryStream(manifestText),
                    });
                else
                    tar.WriteEntry(path, entryName);
                entries++;
                if (buffer.Length > limit)
                    throw TooLarge(dir, limit);
            }
        }
        if (buffer.Length > limit)
            throw TooLarge(dir, limit);
        return new PackedFunction(name, buffer.ToArray(), entries);
    }

    /// <summary>What goes in, in a stable order: directories before what they hold, symlinks not followed.</summary>
    private static IEnumerable<(string Path, string EntryName, bool IsManifest)> Entries(string root)
    {
        var pending = new Stack<(DirectoryInfo Dir, string Prefix)>();
        pending.Push((new DirectoryInfo(root), ""));
        while (pending.TryPop(out var current))
        {
            var children = current.Dir.EnumerateFileSystemInfos()
                .Where(c => !Skipped(c))
                .OrderBy(c => c.Name, StringComparer.Ordinal)
                .ToList();
            // Subdirectories pushed in reverse so they come out in name order.
            for (int i = children.Count - 1; i >= 0; i--)
                if (children[i] is DirectoryInfo sub && sub.LinkTarget is null)
                    pending.Push((sub, current.Prefix + sub.Name + "/"));
            foreach (var child in children)
            {
                bool isDirectory = child is DirectoryInfo && child.LinkTarget is null;
                string entryName = current.Prefix + child.Name + (isDirectory ? "/" : "");
                yield return (child.FullName, entryName, entryName == FunctionManifest.FileName);
            }
        }
    }

    private static bool Skipped(FileSystemInfo entry) =>
        entry.Name is "__pycache__" or ".git" || (entry is FileInfo && entry.Name.EndsWith(".pyc", StringComparison.Ordinal));

    private static InvalidOperationException TooLarge(string dir, long limit) =>
        new($"'{dir}' packs to more than {(limit % (1L << 20) == 0 ? $"{limit >> 20} MiB" : $"{limit} bytes")} (compressed), more than thawd takes in one deploy: leave data sets, models and virtualenvs out of the function (list packages in thaw.toml instead)");

    /// <summary>
    /// The manifest with its top-level name set: the `name = ...` line rewritten (comments and the
    /// rest kept as written), or one added at the top when there is none.
    /// </summary>
    internal static string WithName(string toml, string name)
    {
        string line = $"name = \"{name.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\"";
        var firstTable = TableHeader().Match(toml);
        int topLevelEnd = firstTable.Success ? firstTable.Index : toml.Length;
        var existing = NameLine().Match(toml[..topLevelEnd]);
        return existing.Success
            ? string.Concat(toml.AsSpan(0, existing.Index), line, toml.AsSpan(existing.Index + existing.Length))
            : line + "\n" + toml;
    }

    [GeneratedRegex(@"^[ \t]*\[", RegexOptions.Multiline)]
    private static partial Regex TableHeader();

    [GeneratedRegex(@"^[ \t]*name[ \t]*=[ \t]*(""(?:[^""\\\n]|\\.)*""|'[^'\n]*')[ \t]*(?:#[^\r\n]*)?\r?$", RegexOptions.Multiline)]
    private static partial Regex NameLine();
}
