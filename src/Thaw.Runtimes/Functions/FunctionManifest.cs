using System.Text;
using System.Text.RegularExpressions;
using Tomlyn.Model;

namespace Thaw.Runtimes.Functions;

/// <summary>How a function's sandboxes are made: forked from a zygote, or fresh interpreters (Morula).</summary>
public enum FunctionIsolation
{
    /// <summary>Forked from the deepest matching zygote (the default: the fastest cold start).</summary>
    Fork,

    /// <summary>A pool of interpreters each started with exec (fresh ASLR layout), specialised on claim.</summary>
    Fresh,
}

/// <summary>
/// A function's <c>thaw.toml</c>: what it is called, how it runs and what it may use. Parsing
/// checks every field and reports all problems at once, naming each key, so a bad manifest is
/// refused before anything is installed or started.
/// </summary>
public sealed partial record FunctionManifest
{
    public const string FileName = "thaw.toml";

    /// <summary>OpenLambda's convention, used when a function names no handler: f(event) in f.py.</summary>
    public const string DefaultHandler = "f.f";

    public required string Name { get; init; }

    /// <summary>"python" (the handler runtime) or "exec" (a program, see <see cref="Command"/>).</summary>
    public string Runtime { get; init; } = "python";

    /// <summary>module.function for Python (AWS, SeBS and OpenLambda styles all work).</summary>
    public string Handler { get; init; } = DefaultHandler;

    /// <summary>For the exec runtime: the program and its arguments, run from /handler.</summary>
    public IReadOnlyList<string> Command { get; init; } = [];

    public long MemoryBytes { get; init; } = 128L << 20;

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>At most this many sandboxes of the function at once (each serves one call at a time).</summary>
    public int Concurrency { get; init; } = 8;

    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>Requirements as pip writes them (name, name==1.2); resolved against the install cache at deploy.</summary>
    public IReadOnlyList<string> Packages { get; init; } = [];

    public FunctionIsolation Isolation { get; init; } = FunctionIsolation.Fork;

    /// <summary>
    /// How long an idle warm sandbox is kept for the next call (the handler cache's keep-alive);
    /// null takes the node's default, zero removes each sandbox after its call (every call cold).
    /// </summary>
    public TimeSpan? KeepAlive { get; init; }

    /// <summary>
    /// How long the handler module may take to import and run its init (a deploy's validation start
    /// and every cold start); null takes the runtime's default, derived from <see cref="Timeout"/>.
    /// </summary>
    public TimeSpan? InitTimeout { get; init; }

    /// <summary>The largest <see cref="Timeout"/> and <see cref="InitTimeout"/> (AWS Lambda's limit).</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(15);

    /// <summary>The largest <see cref="KeepAlive"/>.</summary>
    public static readonly TimeSpan MaxKeepAlive = TimeSpan.FromDays(1);

    public const long MinMemoryBytes = 16L << 20;

    /// <summary>Every key thaw.toml may hold (docs/thaw-toml.md describes each).</summary>
    public static IReadOnlyCollection<string> KnownKeys => Keys;

    private static readonly HashSet<string> Keys = ["name", "runtime", "handler", "command", "memory", "timeout", "init_timeout", "concurrency", "environment", "packages", "isolation", "keep_alive"];


    public const string RequirementsFileName = "requirements.txt";

    /// <summary>
    /// Reads <c>thaw.toml</c> from a function directory, and its <c>requirements.txt</c> if there is
    /// one (its requirements join the manifest's <c>packages</c>).
    /// </summary>
    public static FunctionManifest Load(string functionDir)
    {
        string path = Path.Combine(functionDir, FileName);
        if (!File.Exists(path))
            throw new ManifestException($"{FileName} is missing from '{functionDir}' (a function is a directory with a {FileName} and its code)");
        var manifest = Parse(ReadUtf8(File.ReadAllBytes(path), FileName));
        string requirements = Path.Combine(functionDir, RequirementsFileName);
        return File.Exists(requirements) ? manifest with { Packages = [.. manifest.Packages, .. ParseRequirements(ReadUtf8(File.ReadAllBytes(requirements), RequirementsFileName).Split('\n'))] } : manifest;
    }

    /// <summary>
    /// <paramref name="bytes"/> as text, or a <see cref="ManifestException"/> naming the line and column
    /// of the first byte that is not UTF-8 (a BOM is allowed and dropped).
    /// </summary>
    public static string ReadUtf8(ReadOnlySpan<byte> bytes, string what)
    {
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
            bytes = bytes[3..];
        if (Utf8Text.FindInvalid(bytes) is { } where)
            throw new ManifestException($"{what} is not valid UTF-8: {where}; save it as UTF-8");
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>
    /// The requirements of a requirements.txt: one per line, # comments and blank lines skipped. pip's
    /// options (-r, -e, --index-url, URLs) are refused: packages come from the install cache's sources.
    /// </summary>
    public static IReadOnlyList<string> ParseRequirements(IEnumerable<string> lines)
    {
        var requirements = new List<string>();
        var problems = new List<string>();
        int number = 0;
        foreach (var raw in lines)
        {
            number++;
            string line = raw.Split(" #")[0].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            if (line.StartsWith('-') || line.Contains("://", StringComparison.Ordinal))
                problems.Add($"line {number}: '{line}' is a pip option or URL; list package requirements only (name, name==1.2, name>=1,<2)");
            else if (!RequirementLinePattern().IsMatch(line))
                problems.Add($"line {number}: '{line}' is not a requirement");
            else
                requirements.Add(line);
        }
        if (problems.Count > 0)
            throw new ManifestException($"{RequirementsFileName}: " + string.Join("; ", problems));
        return requirements;
    }

    /// <summary>Parses and validates a manifest; throws <see cref="ManifestException"/> naming every problem.</summary>
    public static FunctionManifest Parse(string toml)
    {
        TomlTable table;
        try
        {
            table = TomlText.Parse(toml, FileName);
        }
        catch (FormatException e)
        {
            throw new ManifestException($"{FileName} is {e.Message}");
        }
        var problems = new List<string>();
        foreach (var key in table.Keys.Where(k => !Keys.Contains(k)))
            problems.Add($"unknown key '{key}' (known: {string.Join(", ", Keys.Order())})");

        string? name = Get<string>(table, "name", problems);
        if (name is null)
            problems.Add("'name' is required");
        else if (!NamePattern().IsMatch(name))
            problems.Add($"name '{name}' must be 1-63 characters of a-z, 0-9 and '-', starting with a letter");

        string runtime = Get<string>(table, "runtime", problems) ?? "python";
        if (runtime is not ("python" or "exec"))
            problems.Add($"runtime '{runtime}' is not supported (python or exec)");

        string handler = Get<string>(table, "handler", problems) ?? DefaultHandler;
        if (runtime == "python" && !HandlerPattern().IsMatch(handler))
            problems.Add($"handler '{handler}' must be module.function, e.g. main.handler or lambda_function.lambda_handler");

        var command = GetStrings(table, "command", problems);
        if (runtime == "exec" && command.Count == 0)
            problems.Add("the exec runtime needs 'command' (the program and its arguments)");

        // A plain integer is MiB, as AWS SAM's MemorySize; a string has a unit.
        long memory = Parse(table, "memory", problems, Units.ParseBytes, mib => checked(mib * (1L << 20)), 128L << 20);
        if (memory < MinMemoryBytes)
            problems.Add($"memory {memory >> 20} MiB is below the {MinMemoryBytes >> 20} MiB a sandbox needs");
        var timeout = Parse(table, "timeout", problems, t => Units.ParseDuration(t), TimeSpan.FromSeconds, TimeSpan.FromSeconds(30));
        if (timeout > MaxTimeout)
            problems.Add($"timeout {Units.FormatDuration(timeout)} is over the {Units.FormatDuration(MaxTimeout)} limit");
        TimeSpan? initTimeout = table.ContainsKey("init_timeout") ? Parse(table, "init_timeout", problems, t => Units.ParseDuration(t), TimeSpan.FromSeconds, MaxTimeout) : null;
        if (initTimeout > MaxTimeout)
            problems.Add($"init_timeout {Units.FormatDuration(initTimeout.Value)} is over the {Units.FormatDuration(MaxTimeout)} limit");

        long concurrency = Get<long?>(table, "concurrency", problems) ?? 8;
        if (concurrency is < 1 or > 1000)
            problems.Add($"concurrency {concurrency} must be between 1 and 1000");

        var environment = new Dictionary<string, string>();
        if (table.TryGetValue("environment", out var env))
        {
            if (env is not TomlTable envTable)
                problems.Add("'environment' must be a table of NAME = \"value\"");
            else
                foreach (var (key, value) in envTable)
                {
                    if (!EnvNamePattern().IsMatch(key))
                        problems.Add($"environment name '{key}' must be letters, digits and '_', not starting with a digit");
                    else if (value is string text && !text.Contains('\0', StringComparison.Ordinal))
                        environment[key] = text;
                    else
                        problems.Add($"environment '{key}' must be a string");
                }
        }

        var packages = GetStrings(table, "packages", problems);
        foreach (var p in packages.Where(p => !RequirementLinePattern().IsMatch(p)))
            problems.Add($"package '{p}' must be a requirement: a name, optionally with versions (numpy, pillow==10.0.1, requests>=2,<3)");

        string isolation = Get<string>(table, "isolation", problems) ?? "fork";
        if (isolation is not ("fork" or "fresh"))
            problems.Add($"isolation '{isolation}' must be fork (forked from a zygote) or fresh (Morula: fresh interpreters)");

        TimeSpan? keepAlive = table.ContainsKey("keep_alive") ? Parse(table, "keep_alive", problems, t => Units.ParseDuration(t, allowZero: true), TimeSpan.FromSeconds, TimeSpan.Zero, allowZero: true) : null;
        if (keepAlive > MaxKeepAlive)
            problems.Add($"keep_alive {Units.FormatDuration(keepAlive.Value)} is over the {Units.FormatDuration(MaxKeepAlive)} limit");

        if (problems.Count > 0)
            throw new ManifestException($"{FileName}: " + string.Join("; ", problems));
        return new FunctionManifest
        {
            Name = name!,
            Runtime = runtime,
            Handler = handler,
            Command = command,
            MemoryBytes = memory,
            Timeout = timeout,
            Concurrency = (int)concurrency,
            Environment = environment,
            Packages = packages,
            Isolation = isolation == "fresh" ? FunctionIsolation.Fresh : FunctionIsolation.Fork,
            KeepAlive = keepAlive,
            InitTimeout = initTimeout,
        };
    }

    private static T? Get<T>(TomlTable table, string key, List<string> problems)
    {
        if (!table.TryGetValue(key, out var value))
            return default;
        if (value is T typed)
            return typed;
        if (typeof(T) == typeof(long?) && value is long l)
            return (T)(object)l;
        problems.Add($"'{key}' must be a {(typeof(T) == typeof(string) ? "string" : "number")}");
        return default;
    }

    private static List<string> GetStrings(TomlTable table, string key, List<string> problems)
    {
        if (!table.TryGetValue(key, out var value))
            return [];
        if (value is TomlArray array && array.All(v => v is string))
            return [.. array.Cast<string>()];
        problems.Add($"'{key}' must be an array of strings");
        return [];
    }

    /// <summary>A size or duration: a string with its unit, or a plain integer in <paramref name="fromInteger"/>'s unit (MiB, seconds).</summary>
    private static T Parse<T>(TomlTable table, string key, List<string> problems, Func<string, T> parse, Func<long, T> fromInteger, T fallback, bool allowZero = false)
    {
        if (!table.TryGetValue(key, out var value))
            return fallback;
        try
        {
            return value switch
            {
                string text => parse(text),
                long n when n > 0 || (n == 0 && allowZero) => fromInteger(n),
                long n => throw new ArgumentException($"{n} is not allowed here: it must be {(allowZero ? "0 or more" : "more than 0")}"),
                _ => throw new ArgumentException("must be a string with a unit (\"128M\", \"30s\") or a plain integer"),
            };
        }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        {
            problems.Add($"'{key}': {e.Message}");
            return fallback;
        }
    }

    [GeneratedRegex("^[a-z][a-z0-9-]{0,62}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")]
    private static partial Regex HandlerPattern();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex EnvNamePattern();

    /// <summary>What requirements.txt lines may hold: a name, extras, version clauses, a marker.</summary>
    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[A-Za-z0-9,._ -]*\])?\s*([<>=!~]=?\s*[A-Za-z0-9.*+!_-]+\s*,?\s*)*(;\s*[A-Za-z_.]+\s*(===?|!=|<=?|>=?|~=|not in|in)\s*(""[^""]*""|'[^']*')(\s+(and|or)\s+[A-Za-z_.]+\s*(===?|!=|<=?|>=?|~=|not in|in)\s*(""[^""]*""|'[^']*'))*\s*)?$")]
    private static partial Regex RequirementLinePattern();
}
