using System.Text;

namespace Thaw.Service.Deploy;

/// <summary>
/// An entry's name checked and split into the path segments it will have under the function's
/// directory. Checked segment by segment before anything is joined to a real path, so "../x",
/// "/etc/x" and "a/../../x" never reach the file system.
/// </summary>
internal static class EntryName
{
    /// <summary>NAME_MAX. A longer segment would fail in open(2) as an IOException: thawd's error, not the user's.</summary>
    private const int MaxSegmentBytes = 255;

    /// <summary>The segments of <paramref name="name"/>, without empty and "." ones ("./a//b" is a/b); the root is none.</summary>
    public static string[] Split(string name, FunctionArchiveOptions options)
    {
        if (name.Contains('\0', StringComparison.Ordinal))
            throw ArchiveException.Entry(name, "the name contains a NUL byte");
        if (name.Length > options.MaxPathLength)
            throw ArchiveException.Entry(name, $"the name is longer than {options.MaxPathLength} characters");
        if (name.StartsWith('/'))
            throw ArchiveException.Entry(name, "absolute paths are not allowed");

        var segments = new List<string>();
        foreach (var segment in name.Split('/'))
        {
            if (segment is "" or ".")
                continue;
            if (segment == "..")
                throw ArchiveException.Entry(name, "'..' is not allowed in paths");
            if (Encoding.UTF8.GetByteCount(segment) > MaxSegmentBytes)
                throw ArchiveException.Entry(name, $"a name in the path is longer than {MaxSegmentBytes} bytes");
            segments.Add(segment);
        }
        return [.. segments];
    }

    public static string Join(ReadOnlySpan<string> segments) => string.Join('/', segments);
}
