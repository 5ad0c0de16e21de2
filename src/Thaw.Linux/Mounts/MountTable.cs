using System.Globalization;
using System.Text;

namespace Thaw.Linux.Mounts;

/// <summary>
/// A snapshot of this process's mount namespace, parsed from /proc/self/mountinfo. It is the ground
/// truth for the leak census, the recycle check of a root and crash recovery: a directory walk can
/// neither see mounts nor be trusted not to wander into a bind of a host directory.
/// </summary>
public sealed class MountTable
{
    private MountTable(IReadOnlyList<MountEntry> entries) => Entries = entries;

    public IReadOnlyList<MountEntry> Entries { get; }

    public static MountTable Read() => Parse(File.ReadAllText("/proc/self/mountinfo"));

    public static MountTable Parse(string mountinfo)
    {
        var entries = new List<MountEntry>();
        foreach (var line in mountinfo.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            entries.Add(ParseLine(line));
        return new MountTable(entries);
    }

    /// <summary>
    /// The mounts at <paramref name="dir"/> or below it, deepest first (and, at one path, the most
    /// recent first), the order in which they can be unmounted one by one.
    /// </summary>
    public IReadOnlyList<MountEntry> MountsUnder(string dir)
    {
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        return Entries
            .Where(e => IsAtOrBelow(e.MountPoint, root))
            .OrderByDescending(e => e.MountPoint.Count(c => c == '/'))
            .ThenByDescending(e => e.Id)
            .ToList();
    }

    /// <summary>The mount points at or below <paramref name="dir"/>, deepest first; a path appears once per stacked mount.</summary>
    public IReadOnlyList<string> MountPointsUnder(string dir) => MountsUnder(dir).Select(e => e.MountPoint).ToList();

    public bool IsMountPoint(string path)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        return Entries.Any(e => e.MountPoint == full);
    }

    private static bool IsAtOrBelow(string mountPoint, string root) =>
        mountPoint == root
        || (mountPoint.StartsWith(root, StringComparison.Ordinal)
            && (root == "/" || mountPoint[root.Length] == '/'));

    // 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
    private static MountEntry ParseLine(string line)
    {
        var fields = line.Split(' ');
        int dash = Array.IndexOf(fields, "-", 6);
        if (fields.Length < 10 || dash < 0 || fields.Length < dash + 4)
            throw new FormatException($"unexpected mountinfo line: {line}");
        return new MountEntry(
            int.Parse(fields[0], CultureInfo.InvariantCulture),
            int.Parse(fields[1], CultureInfo.InvariantCulture),
            Unescape(fields[3]),
            Unescape(fields[4]),
            fields[5],
            string.Join(' ', fields[6..dash]),
            fields[dash + 1],
            Unescape(fields[dash + 2]),
            fields[dash + 3]);
    }

    /// <summary>The kernel escapes space, tab, newline and backslash in paths as \ooo octal.</summary>
    internal static string Unescape(string field)
    {
        if (!field.Contains('\\'))
            return field;
        var bytes = new List<byte>(field.Length);
        var raw = Encoding.UTF8.GetBytes(field);
        for (int i = 0; i < raw.Length; i++)
        {
            if (raw[i] == '\\' && i + 3 < raw.Length && IsOctal(raw[i + 1]) && IsOctal(raw[i + 2]) && IsOctal(raw[i + 3]))
            {
                bytes.Add((byte)(((raw[i + 1] - '0') << 6) | ((raw[i + 2] - '0') << 3) | (raw[i + 3] - '0')));
                i += 3;
            }
            else
            {
                bytes.Add(raw[i]);
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(byte b) => b is >= (byte)'0' and <= (byte)'7';
}
