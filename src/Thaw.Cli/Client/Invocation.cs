namespace Thaw.Cli.Client;

/// <summary>
/// One invoke's reply: the handler's result (200) or its error (500 with X-Thaw-Function-Error; the
/// body then has type, message and traceback), and what thawd said about the call in its headers.
/// </summary>
public sealed record Invocation(
    int Status,
    byte[] Body,
    string? Start,
    int? Version,
    string? Sandbox,
    string? FunctionError,
    IReadOnlyDictionary<string, double> Phases)
{
    public bool Succeeded => Status == 200;
}
