using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.FileProviders.Physical;
using Tomlyn.Model;

namespace Thaw.Service.Configuration;

/// <summary>A TOML file as configuration: tables become sections ("[api] listen" is "api:listen"), as the JSON and INI providers do.</summary>
public sealed class TomlConfigurationSource : FileConfigurationSource
{
    public override IConfigurationProvider Build(IConfigurationBuilder builder)
    {
        EnsureDefaults(builder);
        return new TomlConfigurationProvider(this);
    }
}

/// <summary>
/// Reads a TOML file into "table:key" pairs: scalars as invariant strings, arrays as "key:0", "key:1"
/// (the JSON provider's convention), an empty table as its path with no value (so a misspelt empty
/// section is still seen). Syntax errors and keys set twice name their line.
/// </summary>
public sealed class TomlConfigurationProvider(TomlConfigurationSource source) : FileConfigurationProvider(source)
{
    public override void Load(Stream stream)
    {
        string toml;
        try
        {
            using var reader = new StreamReader(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: true);
            toml = reader.ReadToEnd();
        }
        catch (DecoderFallbackException)
        {
            throw new FormatException("not UTF-8 text");
        }
        var table = Thaw.Runtimes.TomlText.Parse(toml, Source.Path ?? "thawd.toml");
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        Flatten(table, null, data);
        Data = data;
    }

    private static void Flatten(object? value, string? path, Dictionary<string, string?> data)
    {
        switch (value)
        {
            case TomlTable table when table.Count == 0 && path is not null:
                Add(data, path, null);
                break;
            case TomlTable table:
                foreach (var (key, child) in table)
                    Flatten(child, path is null ? key : ConfigurationPath.Combine(path, key), data);
                break;
            case TomlTableArray tables:
                for (int i = 0; i < tables.Count; i++)
                    Flatten(tables[i], ConfigurationPath.Combine(path!, i.ToString(CultureInfo.InvariantCulture)), data);
                break;
            case TomlArray array:
                for (int i = 0; i < array.Count; i++)
                    Flatten(array[i], ConfigurationPath.Combine(path!, i.ToString(CultureInfo.InvariantCulture)), data);
                break;
            case bool b:
                Add(data, path!, b ? "true" : "false");
                break;
            case double d:
                Add(data, path!, d.ToString("R", CultureInfo.InvariantCulture));
                break;
            default:
                Add(data, path!, Convert.ToString(value, CultureInfo.InvariantCulture));
                break;
        }
    }

    private static void Add(Dictionary<string, string?> data, string path, string? value)
    {
        // TOML keys are case-sensitive, configuration keys are not: "Listen" and "listen" would collide.
        if (!data.TryAdd(path, value))
            throw new FormatException($"'{path.Replace(':', '.')}' is set twice (keys are not case-sensitive here)");
    }
}

public static class TomlConfigurationExtensions
{
    /// <summary>Adds a TOML file; a missing one is an error unless <paramref name="optional"/>.</summary>
    public static IConfigurationBuilder AddTomlFile(this IConfigurationBuilder builder, string path, bool optional)
    {
        string full = Path.GetFullPath(path);
        string? directory = Path.GetDirectoryName(full);
        return builder.Add(new TomlConfigurationSource
        {
            Path = Path.GetFileName(full),
            Optional = optional,
            // The file's own directory, dot files included (the default provider hides them); a
            // missing directory is a missing file.
            FileProvider = directory is not null && Directory.Exists(directory) ? new PhysicalFileProvider(directory, ExclusionFilters.None) : new NullFileProvider(),
        });
    }
}
