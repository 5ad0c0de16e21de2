using System.Globalization;
using System.Text;

namespace Thaw.Linux.Mounts;

/// <summary>One line of <c>/proc/self/mountinfo</c> (see proc(5)), with paths unescaped.</summary>
public sealed record MountInfo(string Root, string MountPoint, string FsType, string Source, IReadOnlyList<string> SuperOptions)
{
    /// <summary>Parses the mount table of the calling process's mount namespace.</summary>
    public static IReadOnlyList<MountInfo> ReadSelf() => Parse(File.ReadAllText("/proc/self/mountinfo"));

    /// <summary>
    /// Parses mountinfo text. Format: id parent major:minor root mountpoint options [optional…] - fstype
    /// source superoptions. The optional fields vary in number, so the fields after them are found
    /// from the lone "-" separator, not by position.
    /// </summary>
    public static IReadOnlyList<MountInfo> Parse(string text)
    {
        var mounts = new List<MountInfo>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split(' ');
            int dash = Array.IndexOf(fields, "-", 6);
            if (fields.Length < 7 || dash < 0 || fields.Length < dash + 4)
                throw new FormatException($"mountinfo line not understood: '{line}'");
            mounts.Add(new MountInfo(
                Unescape(fields[3]), Unescape(fields[4]), fields[dash + 1], Unescape(fields[dash + 2]),
                fields[dash + 3].Split(',', StringSplitOptions.RemoveEmptyEntries)));
        }
        return mounts;
    }

    /// <summary>The kernel writes space, tab, newline and backslash in paths as octal escapes (\040 …).</summary>
    public static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
            return field;
        // Escapes stand for single bytes of a possibly multi-byte UTF-8 name: decode bytes, then text.
        var bytes = new List<byte>(field.Length);
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && IsOctal(field.AsSpan(i + 1, 3)))
            {
                bytes.Add((byte)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString(CultureInfo.InvariantCulture)));
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(ReadOnlySpan<char> digits)
    {
        foreach (char c in digits)
            if (c is < '0' or > '7')
                return false;
        return true;
    }
}
