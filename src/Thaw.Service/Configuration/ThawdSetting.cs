using System.Globalization;
using System.Text;
using Thaw.Runtimes;

namespace Thaw.Service.Configuration;

/// <summary>
/// One key of thawd.toml, and so of its THAW_* variable and (for some) a `thaw serve` flag: its type,
/// limits and the option it sets. Values arrive as configuration strings. The binder cannot read
/// "4G" or "10m" and its errors name neither the file nor the variable, so each key parses its own
/// value and a bad one throws an <see cref="ArgumentException"/> that says what is wrong with it.
/// </summary>
public sealed record ThawdSetting
{
    private readonly Action<ThawdConfiguration, string> _write;
    private readonly Func<ThawdConfiguration, string?> _read;

    private ThawdSetting(string key, string type, Action<ThawdConfiguration, string> write, Func<ThawdConfiguration, string?> read)
    {
        Key = key;
        Type = type;
        _write = write;
        _read = read;
    }

    /// <summary>The key as TOML writes it: "handler_cache.keep_alive".</summary>
    public string Key { get; }

    /// <summary>The key as Microsoft.Extensions.Configuration writes it: "handler_cache:keep_alive".</summary>
    public string Path => Key.Replace('.', ':');

    /// <summary>The table it lives in ("handler_cache", "pools.netns"), or "" at the top.</summary>
    public string Section => Key.Contains('.', StringComparison.Ordinal) ? Key[..Key.LastIndexOf('.')] : "";

    /// <summary>The key within its table.</summary>
    public string Name => Key[(Key.LastIndexOf('.') + 1)..];

    /// <summary>size, duration, integer, number, boolean, string, path or one of a few words.</summary>
    public string Type { get; }

    /// <summary>The `thaw serve` flag that sets it, if any.</summary>
    public string? Flag { get; init; }

    /// <summary>The flag's help.</summary>
    public string Help { get; init; } = "";

    /// <summary>
    /// A broader key that sets this one too (pools.size sets each pool's size): this key wins only
    /// where it is set at the same or a higher level (a flag's --pool-size beats a file's pool size).
    /// </summary>
    public string? Inherits { get; init; }

    /// <summary>The environment variable that sets it: THAW_ and the path, "__" between tables.</summary>
    public string EnvironmentName => "THAW_" + Path.Replace(":", "__", StringComparison.Ordinal).ToUpperInvariant();

    /// <summary>Parses <paramref name="value"/> into <paramref name="config"/>; throws an ArgumentException naming the problem.</summary>
    internal void Write(ThawdConfiguration config, string value)
    {
        try { _write(config, value.Trim()); }
        catch (OverflowException) { throw new ArgumentException($"'{value}' is out of range"); }
    }

    /// <summary>The value <paramref name="config"/> holds, as a TOML literal ("4G" quoted, 16, true), or null when unset.</summary>
    public string? Read(ThawdConfiguration config) => _read(config);

    internal static ThawdSetting Size(string key, Func<ThawdConfiguration, long> get, Action<ThawdConfiguration, long> set, long min = 1, long max = long.MaxValue) =>
        new(key, "size", (c, text) =>
        {
            long value = min == 0 && text == "0" ? 0 : Units.ParseBytes(text);
            if (value < min || value > max)
                throw new ArgumentException($"'{text}' must be {Range(Units.FormatBytes(min), max == long.MaxValue ? null : Units.FormatBytes(max))}");
            set(c, value);
        }, c => Quote(Units.FormatBytes(get(c))));

    internal static ThawdSetting Duration(string key, Func<ThawdConfiguration, TimeSpan> get, Action<ThawdConfiguration, TimeSpan> set, bool allowZero = false, TimeSpan? max = null) =>
        new(key, "duration", (c, text) =>
        {
            var value = Units.ParseDuration(text, allowZero);
            if (value > max)
                throw new ArgumentException($"'{text}' is over the limit of {Units.FormatDuration(max.Value)}");
            set(c, value);
        }, c => Quote(Units.FormatDuration(get(c))));

    internal static ThawdSetting Integer(string key, Func<ThawdConfiguration, long> get, Action<ThawdConfiguration, long> set, long min, long max) =>
        new(key, "integer", (c, text) =>
        {
            if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
                throw new ArgumentException($"'{text}' is not an integer");
            if (value < min || value > max)
                throw new ArgumentException($"{value} must be {Range(Invariant(min), max == long.MaxValue ? null : Invariant(max))}");
            set(c, value);
        }, c => Invariant(get(c)));

    internal static ThawdSetting Number(string key, Func<ThawdConfiguration, double> get, Action<ThawdConfiguration, double> set, double min, double max) =>
        new(key, "number", (c, text) =>
        {
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
                throw new ArgumentException($"'{text}' is not a number");
            if (value < min || value > max)
                throw new ArgumentException($"{Invariant(value)} must be {Range(Invariant(min), Invariant(max))}");
            set(c, value);
        }, c => Invariant(get(c)));

    internal static ThawdSetting Boolean(string key, Func<ThawdConfiguration, bool> get, Action<ThawdConfiguration, bool> set) =>
        new(key, "boolean", (c, text) => set(c, text.ToLowerInvariant() switch
        {
            "true" => true,
            "false" => false,
            _ => throw new ArgumentException($"'{text}' is not true or false"),
        }), c => get(c) ? "true" : "false");

    /// <summary>A string <paramref name="check"/> approves (it returns the problem, or null); "" unsets an optional one.</summary>
    internal static ThawdSetting Text(string key, string type, Func<ThawdConfiguration, string?> get, Action<ThawdConfiguration, string?> set, Func<string, string?> check, bool optional = false) =>
        new(key, type, (c, text) =>
        {
            if (text.Length == 0 && optional)
            {
                set(c, null);
                return;
            }
            if ((text.Length == 0 ? "must not be empty" : check(text)) is { } problem)
                throw new ArgumentException($"'{text}' {problem}");
            set(c, text);
        }, c => get(c) is { } v ? Quote(v) : null);

    internal static ThawdSetting Choice<T>(string key, Func<ThawdConfiguration, T> get, Action<ThawdConfiguration, T> set, params (string Name, T Value)[] choices)
        where T : notnull =>
        new(key, string.Join(" | ", choices.Select(x => x.Name)), (c, text) =>
        {
            var match = choices.Where(x => string.Equals(x.Name, text, StringComparison.OrdinalIgnoreCase)).ToList();
            if (match.Count == 0)
                throw new ArgumentException($"'{text}' must be one of {string.Join(", ", choices.Select(x => x.Name))}");
            set(c, match[0].Value);
        }, c => Quote(choices.First(x => x.Value.Equals(get(c))).Name));

    /// <summary>A TOML basic string.</summary>
    internal static string Quote(string text)
    {
        var quoted = new StringBuilder("\"");
        foreach (char ch in text)
            quoted.Append(ch switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                _ when char.IsControl(ch) => $"\\u{(int)ch:X4}",
                _ => ch.ToString(),
            });
        return quoted.Append('"').ToString();
    }

    private static string Range(string min, string? max) => max is null ? $"at least {min}" : $"from {min} to {max}";

    private static string Invariant(IFormattable value) => value.ToString(null, CultureInfo.InvariantCulture);
}
