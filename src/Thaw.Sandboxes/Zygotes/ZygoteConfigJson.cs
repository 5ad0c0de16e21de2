using System.Text.Json.Serialization;

namespace Thaw.Sandboxes.Zygotes;

/// <summary>The zygote's start-up config (PROTOCOL.md, "Start").</summary>
internal sealed record ZygoteConfig(string Socket, string Root, string Netns, IReadOnlyList<string> CgroupProcs, string? Native, int Parked, bool Prefault);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ZygoteConfig))]
internal sealed partial class ZygoteConfigJson : JsonSerializerContext;
