using Microsoft.Extensions.Logging;

namespace Thaw.Cli;

/// <summary>Logs go to stderr so that stdout carries only what a command prints (tables, JSON, "ready").</summary>
internal static class CliLogging
{
    public static ILoggerFactory Create(LogLevel minimum = LogLevel.Information) => LoggerFactory.Create(b => b
        .SetMinimumLevel(minimum)
        .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
}
