using Microsoft.Extensions.Logging;

namespace Thaw.Sandboxes;

public sealed partial class SandboxSpawner
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 320, Level = LogLevel.Error, Message = "zygote {Pid} died and no new one could be started; the next request retries")]
        public static partial void RestartFailed(ILogger logger, int pid, Exception exception);

        [LoggerMessage(EventId = 321, Level = LogLevel.Error, Message = "handling the exit of a sandbox thawd cloned failed")]
        public static partial void ExitHandlingFailed(ILogger logger, Exception exception);
    }
}
