namespace Thaw.Runtimes.Python;

/// <summary>
/// A function's sandbox could not start serving: its handler is missing, its code has a syntax
/// error, an import failed or module init raised. <see cref="Phase"/> says which (handler, syntax,
/// import, init, sandbox); <see cref="Traceback"/> is Python's, when there is one.
/// </summary>
public sealed class FunctionStartException(string phase, string message, string traceback = "", Exception? inner = null)
    : Exception(message, inner)
{
    public string Phase { get; } = phase;

    public string Traceback { get; } = traceback;
}
