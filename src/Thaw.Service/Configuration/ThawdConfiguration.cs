using System.Collections;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Thaw.Service.Configuration;

/// <summary>
/// thawd's configuration from its layers: the defaults (<see cref="ThawdOptions"/>'), a TOML file,
/// THAW_* environment variables and `thaw serve`'s flags, each overriding the one before. The layers
/// are Microsoft.Extensions.Configuration providers in one configuration root; every key any of them
/// sets must be one of <see cref="ThawdSettings.All"/> with a value it takes, else nothing starts.
/// </summary>
public sealed class ThawdConfiguration
{
    public const string DefaultFile = "/etc/thaw/thawd.toml";

    public const string EnvironmentPrefix = "THAW_";

    /// <summary>THAW_* variables of the thaw client (THAW_URL), not thawd's: not read as configuration.</summary>
    private static readonly string[] ClientVariables = ["url"];

    private readonly Dictionary<string, ConfigOrigin> _origins = new(StringComparer.Ordinal);

    public ThawdOptions Options { get; } = new();

    public LogLevel LogLevel { get; set; } = LogLevel.Information;

    /// <summary>pools.size: what each pool's size is unless its own key says otherwise.</summary>
    internal int PoolSize { get; set; } = new ThawdOptions().Resources.Netns.Size;

    /// <summary>The file read, or looked for (the default one may be missing).</summary>
    public string File { get; private set; } = DefaultFile;

    public bool FileFound { get; private set; }

    /// <summary>
    /// Builds the configuration from <paramref name="file"/> (null: <see cref="DefaultFile"/>, used
    /// only if it exists), the process's THAW_* variables and <paramref name="flags"/>; throws a
    /// <see cref="ThawdConfigurationException"/> naming every unknown key and bad value and where each was set.
    /// </summary>
    public static ThawdConfiguration Load(string? file, IReadOnlyList<(ThawdSetting Setting, string Flag, string Value)> flags)
    {
        string path = Path.GetFullPath(file ?? DefaultFile);
        IConfigurationRoot root;
        try
        {
            root = new ConfigurationBuilder()
                .AddTomlFile(path, optional: file is null)
                .AddEnvironmentVariables(EnvironmentPrefix)
                .AddInMemoryCollection(flags.Select(f => KeyValuePair.Create(f.Setting.Path, (string?)f.Value)))
                .Build();
        }
        catch (FileNotFoundException)
        {
            throw new ThawdConfigurationException($"{path}: no such file (--config)");
        }
        catch (InvalidDataException e)
        {
            throw new ThawdConfigurationException($"{path}: {e.InnerException?.Message ?? e.Message}");
        }
        var providers = root.Providers.ToList();
        var layers = new (IConfigurationProvider Provider, Func<string, ConfigOrigin> Origin)[]
        {
            (providers[0], _ => new ConfigOrigin(ConfigOriginKind.File, path)),
            (providers[1], key => new ConfigOrigin(ConfigOriginKind.Environment, VariableOf(key))),
            (providers[2], key => new ConfigOrigin(ConfigOriginKind.Flag, flags.Last(f => f.Setting.Path == key).Flag)),
        };
        var config = new ThawdConfiguration { File = path, FileFound = System.IO.File.Exists(path) };

        // Every value of every layer, overridden or not: a file is checked as a whole.
        var problems = new List<string>();
        foreach (var (provider, origin) in layers)
        {
            foreach (var (key, value) in Leaves(provider, null))
            {
                if (provider == providers[1] && ClientVariables.Contains(key, StringComparer.OrdinalIgnoreCase))
                    continue;
                string dotted = key.Replace(':', '.');
                if (ThawdSettings.Find(key) is not { } setting)
                {
                    if (Unknown(dotted, value) is { } unknown)
                        problems.Add($"{origin(key).Where(unknown.Key)}: {unknown.Problem}");
                    continue;
                }
                try { setting.Write(new ThawdConfiguration(), value ?? throw new ArgumentException("must be a value, not an empty table")); }
                catch (ArgumentException e) { problems.Add($"{origin(key).Where(setting.Key)}: {e.Message}"); }
            }
        }
        if (problems.Count > 0)
            throw new ThawdConfigurationException(string.Join("; ", problems.Distinct()));

        // The effective values: the root's (the last layer that has a key wins), each with its layer.
        foreach (var setting in ThawdSettings.All)
        {
            if (root[setting.Path] is not { } value)
                continue;
            var (provider, origin) = layers.Last(l => l.Provider.TryGet(setting.Path, out var v) && v is not null);
            var source = origin(setting.Path);
            if (setting.Inherits is { } broader && config._origins.TryGetValue(broader, out var broaderFrom) && broaderFrom.Kind > source.Kind)
                continue; // --pool-size beats a file's [pools.netns] size
            setting.Write(config, value);
            config._origins[setting.Key] = source;
        }
        return config;
    }

    /// <summary>Where the effective value of <paramref name="setting"/> came from.</summary>
    public ConfigOrigin OriginOf(ThawdSetting setting) =>
        _origins.TryGetValue(setting.Key, out var origin) ? origin
        : setting.Inherits is { } broader && _origins.TryGetValue(broader, out var inherited) ? inherited with { Name = $"{inherited.Name} (as {broader})" }
        : ConfigOrigin.Default;

    /// <summary>
    /// The effective configuration as a thawd.toml (it reads back as the same configuration), each
    /// value with where it came from: what `thaw serve --print-config` prints.
    /// </summary>
    public string Describe()
    {
        var text = new StringBuilder();
        text.AppendLine("# thawd's effective configuration: each key, its value and where the value came from");
        text.AppendLine("# (flags override THAW_* variables, which override the file, which overrides the defaults).");
        text.AppendLine($"# file: {File}{(FileFound ? "" : " (not found)")}");
        string section = "";
        foreach (var setting in ThawdSettings.All)
        {
            if (setting.Section != section)
            {
                section = setting.Section;
                text.AppendLine().AppendLine($"[{section}]");
            }
            string line = setting.Read(this) is { } value ? $"{setting.Name} = {value}" : $"# {setting.Name} is not set";
            text.AppendLine($"{line,-40} # {OriginOf(setting)}");
        }
        return text.ToString();
    }

    /// <summary>What is wrong with a key no setting has (and the key to name), or null when it is only a table that holds settings.</summary>
    private static (string Key, string Problem)? Unknown(string key, string? value)
    {
        if (ThawdSettings.Sections.Contains(key))
            return value is null ? null : (key, $"is a table ([{Canonical(key)}]), not a value");
        if (ThawdSettings.All.FirstOrDefault(s => key.StartsWith(s.Key + ".", StringComparison.OrdinalIgnoreCase)) is { } scalar)
            return (scalar.Key, $"must be one value ({scalar.Type}), not a table or an array");
        string[] parts = key.Split('.');
        // An empty table is a key with no value: a misspelt [handlercache] with nothing in it yet.
        for (int i = 1; i <= (value is null ? parts.Length : parts.Length - 1); i++)
        {
            string table = string.Join('.', parts[..i]);
            if (!ThawdSettings.Sections.Contains(table))
                return (key, $"unknown table [{table}]{Suggest(table, ThawdSettings.Sections)} (known: {string.Join(", ", ThawdSettings.Sections.Order())})");
        }
        string parent = parts.Length > 1 ? Canonical(string.Join('.', parts[..^1])) : "";
        var known = ThawdSettings.All.Where(s => s.Section == parent).Select(s => s.Name).ToList();
        var tables = ThawdSettings.Sections.Where(t => t.StartsWith(parent, StringComparison.Ordinal) && t.Length > parent.Length
            && !t[(parent.Length == 0 ? 0 : parent.Length + 1)..].Contains('.', StringComparison.Ordinal)).Order().Select(t => $"[{t}]");
        string where = parent.Length > 0 ? $"in [{parent}]" : "at the top level";
        return (key, $"unknown key '{parts[^1]}' {where}{Suggest(parts[^1], known)} (known: {string.Join(", ", known.Concat(tables))})");
    }

    /// <summary>A known table's name as the settings spell it (environment variables arrive in capitals).</summary>
    private static string Canonical(string table) => ThawdSettings.Sections.FirstOrDefault(t => string.Equals(t, table, StringComparison.OrdinalIgnoreCase)) ?? table;

    /// <summary>"; did you mean 'x'?" for a name within two edits of a known one.</summary>
    private static string Suggest(string name, IEnumerable<string> known) =>
        known.Select(k => (Name: k, Distance: EditDistance(name.ToLowerInvariant(), k))).Where(k => k.Distance <= 2).OrderBy(k => k.Distance).FirstOrDefault().Name is { } match
            ? $", did you mean '{match}'?" : "";

    private static int EditDistance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            previous = current;
        }
        return previous[b.Length];
    }

    /// <summary>Every key a provider holds, with its value (null for an empty table).</summary>
    private static IEnumerable<(string Key, string? Value)> Leaves(IConfigurationProvider provider, string? parent)
    {
        foreach (string child in provider.GetChildKeys([], parent).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            string path = parent is null ? child : ConfigurationPath.Combine(parent, child);
            bool holds = provider.GetChildKeys([], path).Any();
            if (provider.TryGet(path, out var value) && (value is not null || !holds))
                yield return (path, value);
            foreach (var leaf in Leaves(provider, path))
                yield return leaf;
        }
    }

    /// <summary>The variable the environment provider read <paramref name="key"/> from ("api:listen" → THAW_API__LISTEN).</summary>
    private static string VariableOf(string key)
    {
        foreach (DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            string name = (string)variable.Key;
            if (name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase)
                && string.Equals(name[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal), key, StringComparison.OrdinalIgnoreCase))
                return name;
        }
        return EnvironmentPrefix + key.Replace(":", "__", StringComparison.Ordinal).ToUpperInvariant();
    }
}
