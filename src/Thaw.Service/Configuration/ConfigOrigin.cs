namespace Thaw.Service.Configuration;

/// <summary>Where a configuration value came from, ranked as they override each other.</summary>
public enum ConfigOriginKind
{
    Default,
    File,
    Environment,
    Flag,
}

/// <summary>A value's origin: the defaults, a file (its path), a THAW_* variable (its name) or a flag (its name).</summary>
public sealed record ConfigOrigin(ConfigOriginKind Kind, string Name)
{
    public static readonly ConfigOrigin Default = new(ConfigOriginKind.Default, "default");

    /// <summary>Where a problem with <paramref name="key"/> (dotted, as TOML writes it) is to be fixed.</summary>
    public string Where(string key) => Kind switch
    {
        ConfigOriginKind.File => $"{Name}: {key}",
        ConfigOriginKind.Environment => $"environment {Name} ({key})",
        ConfigOriginKind.Flag => $"{Name} ({key})",
        _ => key,
    };

    public override string ToString() => Kind switch
    {
        ConfigOriginKind.Environment => "environment " + Name,
        ConfigOriginKind.Flag => "flag " + Name,
        _ => Name,
    };
}
