using Microsoft.Extensions.Logging;

namespace Thaw.Sandboxes;

public sealed partial class Sandbox
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 310, Level = LogLevel.Warning, Message = "sandbox {Id}: no exit reported within {Seconds} s of SIGKILL; resources reclaimed through the cgroup")]
        public static partial void KillTimedOut(ILogger logger, string id, double seconds);

        [LoggerMessage(EventId = 311, Level = LogLevel.Warning, Message = "sandbox {Id}: output still open 2 s after exit; the logs are cut there")]
        public static partial void LogsNotClosed(ILogger logger, string id);

        [LoggerMessage(EventId = 312, Level = LogLevel.Error, Message = "sandbox {Id}: cleaning up after its exit failed")]
        public static partial void FinishFailed(ILogger logger, string id, Exception error);
    }
}
