using Microsoft.Extensions.Logging;

namespace Thaw.Resources.Pooling;

public sealed partial class ResourcePool<T>
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 100, Level = LogLevel.Warning, Message = "{Pool} pool: refill failed; claims will craft synchronously until it recovers")]
        public static partial void RefillFailed(ILogger logger, string pool, Exception error);

        [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "{Pool} pool: a released resource failed its check and is destroyed")]
        public static partial void RecycleFailed(ILogger logger, string pool, Exception error);

        [LoggerMessage(EventId = 102, Level = LogLevel.Error, Message = "{Pool} pool: destroying a resource failed; the next start's recovery sweep removes it")]
        public static partial void DestroyFailed(ILogger logger, string pool, Exception error);
    }
}
