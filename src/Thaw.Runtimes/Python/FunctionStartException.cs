namespace Thaw.Runtimes.Python;

/// <summary>
/// A function's sandbox could not start serving: its handler is missing, its code has a syntax
/// error, an import failed or module init raised. <see cref="Phase"/> says which (handler, syntax,
/// import, init, exit: the module ended the process, sandbox: Thaw's side failed); <see cref="Traceback"/>
/// is Python's, or the end of the sandbox's stderr, when there is one.
/// </summary>
public sealed class FunctionStartException(string phase, string message, string traceback = "", Exception? inner = null)
    : Exception(message, inner)
{
    public string Phase { get; } = phase;

    public string Traceback { get; } = traceback;

    /// <summary>The bound the handler module did not load within (its init_timeout, or the one derived from its timeout); null otherwise.</summary>
    public TimeSpan? InitTimeout { get; init; }

    /// <summary>The failure is the function's (its code, its manifest), not Thaw's: a deploy refuses it as the caller's error.</summary>
    public bool FunctionsFault => Phase is not "sandbox";
}
