using Microsoft.Extensions.Logging;

namespace Thaw.Cli;

/// <summary>Logs go to stderr so that stdout carries only what a command prints (tables, JSON, "ready").</summary>
internal static class CliLogging
{
    public static ILoggerFactory Create(LogLevel minimum = LogLevel.Information) => LoggerFactory.Create(b => b
        .SetMinimumLevel(minimum)
        // ASP.NET Core logs every request at Information: thawd's own log says what matters; its
        // framework chatter only when asked for (debug, trace).
        .AddFilter("Microsoft", minimum <= LogLevel.Debug ? minimum : LogLevel.Warning)
        // A host that fails to start (a port in use) is reported once, as `thaw: ...`, not with its stack.
        .AddFilter("Microsoft.Extensions.Hosting", minimum <= LogLevel.Debug ? minimum : LogLevel.None)
        .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
}
