namespace Thaw.Cli.Client;

/// <summary>
/// thawd refused a request: its status, the API's error code (not_found, bad_manifest, queue_full, …)
/// and its message, which is this exception's message as the server wrote it.
/// </summary>
public sealed class ThawApiException(int status, string code, string message, string? traceback = null) : Exception(message)
{
    public int Status { get; } = status;

    public string Code { get; } = code;

    /// <summary>A Python traceback, when the failure was the function's (a handler that did not load).</summary>
    public string? Traceback { get; } = traceback;
}
