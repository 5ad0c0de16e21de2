using Microsoft.Extensions.Logging;

namespace Thaw.Runtimes.Python;

public sealed partial class ImportCache
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "import cache: zygote {Pid} for [{Packages}] built ({Modules} modules in {ImportMs} ms, {MemoryMiB} MiB)")]
        public static partial void Built(ILogger logger, int pid, string packages, int modules, double importMs, long memoryMiB);

        [LoggerMessage(EventId = 401, Level = LogLevel.Warning, Message = "import cache: zygote for [{Packages}] could not be built: {Error}")]
        public static partial void BuildFailed(ILogger logger, string packages, string error);

        [LoggerMessage(EventId = 402, Level = LogLevel.Information, Message = "import cache: zygote {Pid} for [{Packages}] evicted ({MemoryMiB} MiB)")]
        public static partial void Evicted(ILogger logger, int pid, string packages, long memoryMiB);

        [LoggerMessage(EventId = 403, Level = LogLevel.Warning, Message = "import cache: zygote {Pid} for [{Packages}] dropped: {Why}")]
        public static partial void Dropped(ILogger logger, int pid, string packages, string why);
    }
}
