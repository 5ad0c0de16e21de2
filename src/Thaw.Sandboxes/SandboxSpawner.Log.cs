using Microsoft.Extensions.Logging;

namespace Thaw.Sandboxes;

public sealed partial class SandboxSpawner
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 320, Level = LogLevel.Error, Message = "zygote {Pid} died and no new one could be started; the next request retries")]
        public static partial void RestartFailed(ILogger logger, int pid, Exception exception);
    }
}
