using System.Text.Json.Serialization;

namespace Thaw.Sandboxes.Zygotes;

/// <summary>
/// The zygote's start-up config (PROTOCOL.md, "Start"). WatchStdin: the zygote's stdin is a pipe
/// thawd holds open, whose end of file is thawd's death.
/// </summary>
internal sealed record ZygoteConfig(string Socket, string Root, string Netns, IReadOnlyList<string> CgroupProcs, string? Native, int Parked, bool Prefault,
    bool WatchStdin, string? Seccomp);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ZygoteConfig))]
internal sealed partial class ZygoteConfigJson : JsonSerializerContext;
