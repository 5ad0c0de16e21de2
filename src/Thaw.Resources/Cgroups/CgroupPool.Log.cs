using Microsoft.Extensions.Logging;

namespace Thaw.Resources.Cgroups;

public sealed partial class CgroupPool
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "cgroup pool {Name}: {Layout}")]
        public static partial void Started(ILogger logger, string name, CgroupLayout layout);

        [LoggerMessage(EventId = 201, Level = LogLevel.Warning, Message = "cgroup pool {Name}: no cgroup freezer on this host; idle warm sandboxes cannot be paused")]
        public static partial void NoFreezer(ILogger logger, string name);

        [LoggerMessage(EventId = 202, Level = LogLevel.Error, Message = "cgroup pool {Name}: removing the parent cgroups failed; the next start's recovery sweep removes them")]
        public static partial void RemoveParentsFailed(ILogger logger, string name, Exception error);
    }
}
