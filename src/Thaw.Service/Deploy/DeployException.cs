namespace Thaw.Service.Deploy;

/// <summary>A deploy refused: what was wrong, as the HTTP reply says it (status, a stable code, the message, Python's traceback if any).</summary>
public sealed class DeployException(int status, string code, string message, string traceback = "", Exception? inner = null)
    : Exception(message, inner)
{
    public int Status { get; } = status;

    /// <summary>bad_name, bad_archive, too_large, bad_manifest, bad_packages, bad_handler, init_timeout, start_failed.</summary>
    public string Code { get; } = code;

    public string Traceback { get; } = traceback;
}
