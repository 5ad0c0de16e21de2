using Microsoft.Extensions.Logging;

namespace Thaw.Service;

public sealed partial class Thawd
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 800, Level = LogLevel.Information, Message = "thawd listening on {Url} (state {StateDir}, {Functions} functions)")]
        public static partial void Started(ILogger logger, string url, string stateDir, int functions);

        [LoggerMessage(EventId = 808, Level = LogLevel.Information, Message = "kernel paths: {Paths}")]
        public static partial void KernelPaths(ILogger logger, string paths);

        [LoggerMessage(EventId = 801, Level = LogLevel.Information, Message = "thawd stopped; every sandbox, zygote and pooled resource removed")]
        public static partial void Stopped(ILogger logger);

        [LoggerMessage(EventId = 802, Level = LogLevel.Warning, Message = "removed {Count} code directories no registered function uses (left by an interrupted deploy)")]
        public static partial void SweptCode(ILogger logger, int count);

        [LoggerMessage(EventId = 803, Level = LogLevel.Error, Message = "function {Function} version {Version} cannot be loaded and is not served: {Reason}")]
        public static partial void FunctionUnloadable(ILogger logger, string function, int version, string reason);

        [LoggerMessage(EventId = 804, Level = LogLevel.Warning, Message = "removing the code of {Function} version {Version} failed: {Reason}")]
        public static partial void CodeRemoveFailed(ILogger logger, string function, int version, string reason);

        [LoggerMessage(EventId = 805, Level = LogLevel.Warning, Message = "building the zygotes of the last run and the seed file failed: {Reason}; they are learned again from calls")]
        public static partial void SeedFailed(ILogger logger, string reason);

        [LoggerMessage(EventId = 807, Level = LogLevel.Warning, Message = "could not raise the open files limit to {Wanted} ({Reason}); it stays {Limit}, which bounds the sandboxes this node can hold")]
        public static partial void OpenFilesLimitKept(ILogger logger, long wanted, long limit, string reason);

        [LoggerMessage(EventId = 806, Level = LogLevel.Warning, Message = "warming up the HTTP path failed ({Reason}); the first requests pay its JIT")]
        public static partial void WarmUpFailed(ILogger logger, string reason);

        [LoggerMessage(EventId = 807, Level = LogLevel.Error, Message = "collecting retired code failed; the next round tries again")]
        public static partial void CodeCollectFailed(ILogger logger, Exception error);
    }
}
