using Microsoft.Extensions.Logging;

namespace Thaw.Resources.Roots;

public sealed partial class RootPool
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 300, Level = LogLevel.Warning, Message = "roots: removed {Count} mounts left under {Dir} by an earlier run")]
        public static partial void SweptLeftovers(ILogger logger, int count, string dir);
    }
}
