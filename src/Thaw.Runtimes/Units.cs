using System.Globalization;

namespace Thaw.Runtimes;

/// <summary>Sizes and durations as people type them: 64M, 1.5G, 512k; 5s, 250ms, 2m.</summary>
public static class Units
{
    public static long ParseBytes(string text)
    {
        string t = text.Trim();
        long multiplier = 1;
        if (t.Length > 0 && char.IsLetter(t[^1]))
        {
            string unit = t.TrimEnd('b', 'B', 'i');
            char suffix = char.ToUpperInvariant(unit.Length > 0 ? unit[^1] : ' ');
            multiplier = suffix switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, 'T' => 1L << 40, _ => 0 };
            t = multiplier == 0 ? t : unit[..^1];
        }
        if (multiplier == 0 || !double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
            throw new ArgumentException($"'{text}' is not a size (examples: 64M, 1G, 512K)");
        if (value <= 0)
            throw new ArgumentException($"'{text}' is not allowed here: a size must be more than 0 (e.g. 64M, 1G)");
        return (long)(value * multiplier);
    }

    /// <summary>
    /// A size as people write it and <see cref="ParseBytes"/> reads it back: the largest binary unit
    /// that keeps it whole ("4G", "64M", "512K"), else plain bytes ("1000").
    /// </summary>
    public static string FormatBytes(long bytes)
    {
        foreach (var (unit, shift) in new[] { ("T", 40), ("G", 30), ("M", 20), ("K", 10) })
            if (bytes != 0 && bytes % (1L << shift) == 0)
                return (bytes >> shift).ToString(CultureInfo.InvariantCulture) + unit;
        return bytes.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Parses <paramref name="text"/> (5s, 250ms, 2m, 1h; a bare number is seconds). Zero is refused
    /// unless <paramref name="allowZero"/> (where it means "none", e.g. keep nothing alive).
    /// </summary>
    public static TimeSpan ParseDuration(string text, bool allowZero = false)
    {
        string t = text.Trim();
        (string number, double seconds) = t switch
        {
            _ when t.EndsWith("ms", StringComparison.Ordinal) => (t[..^2], 0.001),
            _ when t.EndsWith('s') => (t[..^1], 1),
            _ when t.EndsWith('m') => (t[..^1], 60),
            _ when t.EndsWith('h') => (t[..^1], 3600),
            _ => (t, 1),
        };
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value)
            || value * seconds > TimeSpan.MaxValue.TotalSeconds)
            throw new ArgumentException($"'{text}' is not a duration (examples: 5s, 250ms, 2m, 1h; a bare number is seconds)");
        if (value < 0 || (value == 0 && !allowZero))
            throw new ArgumentException($"'{text}' is not allowed here: it must be {(allowZero ? "0s or more" : "more than 0s")} (e.g. 5s, 250ms, 2m)");
        return TimeSpan.FromSeconds(value * seconds);
    }

    /// <summary>
    /// A duration as people write it and <see cref="ParseDuration"/> reads it back: the largest unit
    /// that keeps it whole ("100h", "15m", "30s", "250ms"), else seconds with up to three decimals ("1.5s").
    /// </summary>
    public static string FormatDuration(TimeSpan duration)
    {
        if (duration == TimeSpan.Zero)
            return "0s";
        long ms = (long)Math.Round(duration.TotalMilliseconds);
        string Whole(long n, string unit) => n.ToString(CultureInfo.InvariantCulture) + unit;
        return ms switch
        {
            0 => duration.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture) + "ms",
            _ when ms % 3_600_000 == 0 => Whole(ms / 3_600_000, "h"),
            _ when ms % 60_000 == 0 => Whole(ms / 60_000, "m"),
            _ when ms % 1000 == 0 => Whole(ms / 1000, "s"),
            < 1000 and > -1000 => Whole(ms, "ms"),
            _ => (ms / 1000.0).ToString("0.###", CultureInfo.InvariantCulture) + "s",
        };
    }
}
