using System.Text.Json.Serialization;

namespace Thaw.Runtimes.Python;

/// <summary>The head of an invoke frame; the event is spliced in after it without being parsed.</summary>
internal sealed record InvokeHead(string Id, long TimeoutMs)
{
    public string Op => "invoke";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(InvokeHead))]
internal sealed partial class RuntimeJson : JsonSerializerContext;
