using System.Text.Json;

namespace Thaw.Runtimes.Python;

/// <summary>What the handler raised: its type, message and traceback (without the runtime's frames).</summary>
public sealed record HandlerError(string Type, string Message, string Traceback);

/// <summary>One call's outcome: the handler's JSON result, or the error it raised.</summary>
public sealed record Invocation(JsonElement? Result, HandlerError? Error, double HandlerMs)
{
    public bool Succeeded => Error is null;
}
