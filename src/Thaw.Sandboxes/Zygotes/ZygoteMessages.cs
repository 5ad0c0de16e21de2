using System.Text.Json.Serialization;

namespace Thaw.Sandboxes.Zygotes;

/// <summary>A request thawd sends to a zygote (src/python/PROTOCOL.md). Null fields are left out.</summary>
internal sealed class ZygoteRequest
{
    public required string Op { get; init; }

    public string? Id { get; init; }

    public int? Version { get; init; }

    public string? Via { get; init; }

    public IReadOnlyList<string>? Argv { get; init; }

    public IReadOnlyDictionary<string, string>? Env { get; init; }

    public string? Cwd { get; init; }

    public string? Hostname { get; init; }

    public int? Uid { get; init; }

    public int? Gid { get; init; }

    public IReadOnlyList<string>? Namespaces { get; init; }

    /// <summary>Names of the attached descriptors, in order: root, netns, stdin, stdout, stderr, start, cgroup...</summary>
    public IReadOnlyList<string>? Fds { get; init; }

    public int? Signal { get; init; }

    /// <summary>kill: the sandbox's pid, for one claimed straight from a parked child (the zygote may not know its id).</summary>
    public int? Pid { get; init; }

    /// <summary>thawd wrote the start byte before sending: the child will not block on start.</summary>
    public bool? Prestarted { get; init; }

    /// <summary>fork-zygote: the modules the child zygote imports, and what it puts in front of sys.path.</summary>
    public IReadOnlyList<string>? Modules { get; init; }

    public IReadOnlyList<string>? Paths { get; init; }

    /// <summary>fork-zygote: children the new zygote keeps forked ahead.</summary>
    public int? Parked { get; init; }

    /// <summary>park: how many children the zygote keeps forked ahead from now on.</summary>
    public int? Target { get; init; }

    /// <summary>profile: the pages sandboxes of this zygote wrote, as [address, pages] runs, sorted.</summary>
    public IReadOnlyList<ulong[]>? Ranges { get; init; }

    /// <summary>fork-zygote: Morula mode, every sandbox an exec'd fresh interpreter that imports the modules.</summary>
    public bool? Fresh { get; init; }

    /// <summary>The handler runtime's configuration: serve it instead of exec'ing argv.</summary>
    public System.Text.Json.Nodes.JsonObject? Runtime { get; init; }
}

/// <summary>A reply or event from a zygote: hello, spawned, started, exit, error, parked.</summary>
internal sealed class ZygoteMessage
{
    public string Op { get; init; } = "";

    public string? Id { get; init; }

    public int? Version { get; init; }

    public int? Pid { get; init; }

    /// <summary>On spawned: the program already runs (a vfork spawn returns after the exec); no started event follows.</summary>
    public bool? Started { get; init; }

    public int? Code { get; init; }

    public int? Signal { get; init; }

    public string? Error { get; init; }

    /// <summary>A child zygote's hello: how many modules it imported, which failed and why, how long it took.</summary>
    public int? Imported { get; init; }

    public IReadOnlyList<string>? Failed { get; init; }

    [JsonPropertyName("import_ms")]
    public double? ImportMs { get; init; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ZygoteRequest))]
[JsonSerializable(typeof(ZygoteMessage))]
internal sealed partial class ZygoteJson : JsonSerializerContext;
