namespace Thaw.Service.Scheduling;

/// <summary>A call outlived its function's timeout; its sandbox was killed and is being replaced (HTTP 504).</summary>
public sealed class CallTimeoutException(string function, TimeSpan timeout)
    : Exception($"function '{function}' did not return within its timeout of {Thaw.Runtimes.Units.FormatDuration(timeout)}; its sandbox was killed and is replaced");
