using System.Text.Json.Serialization;

namespace Thaw.Service.Registry;

/// <summary>The registry's one JSON column (installed packages), serialized without reflection.</summary>
[JsonSerializable(typeof(string[]))]
internal sealed partial class RegistryJson : JsonSerializerContext;
