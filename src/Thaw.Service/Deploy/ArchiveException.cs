using System.Globalization;

namespace Thaw.Service.Deploy;

/// <summary>
/// A deploy archive thawd refuses. The message is for the person deploying (it becomes the reply's
/// body) and names the entry at fault; <see cref="TooLarge"/> picks 413 over 400.
/// </summary>
public sealed class ArchiveException(string message, bool tooLarge = false, Exception? innerException = null)
    : Exception(message, innerException)
{
    /// <summary>A size or count limit was passed (HTTP 413), rather than the archive being unusable (400).</summary>
    public bool TooLarge { get; } = tooLarge;

    internal static ArchiveException Limit(string message) => new(message, tooLarge: true);

    internal static ArchiveException Entry(string name, string why) => new($"entry {Quote(name)}: {why}");

    internal static ArchiveException SymlinkOutside(string name) => new($"symlink {Quote(name)} points outside the function");

    /// <summary>An entry name as it can be shown in a reply: quoted, control bytes masked, cut short.</summary>
    internal static string Quote(string name)
    {
        const int Shown = 200;
        var masked = string.Create(Math.Min(name.Length, Shown), name, static (span, n) =>
        {
            for (int i = 0; i < span.Length; i++)
                span[i] = char.IsControl(n[i]) ? '?' : n[i];
        });
        return "'" + masked + (name.Length > Shown ? "…'" : "'");
    }

    /// <summary>A limit as people read it: 64 MiB, 512 KiB, 1000 bytes.</summary>
    internal static string Size(long bytes) => bytes switch
    {
        _ when bytes >= 1L << 20 && bytes % (1L << 20) == 0 => (bytes >> 20).ToString(CultureInfo.InvariantCulture) + " MiB",
        _ when bytes >= 1L << 10 && bytes % (1L << 10) == 0 => (bytes >> 10).ToString(CultureInfo.InvariantCulture) + " KiB",
        _ => bytes.ToString(CultureInfo.InvariantCulture) + " bytes",
    };
}
