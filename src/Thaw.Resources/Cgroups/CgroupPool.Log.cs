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

        [LoggerMessage(EventId = 203, Level = LogLevel.Information, Message = "cgroup pool {Name}: turned favordynmods on at the cgroup2 mount (a cgroup join after idle no longer waits for an RCU grace period, 5-15 ms on a VM); CgroupPoolOptions.FavorDynamicModifications = false leaves it alone")]
        public static partial void DynmodsOn(ILogger logger, string name);

        [LoggerMessage(EventId = 204, Level = LogLevel.Warning, Message = "cgroup pool {Name}: cannot turn favordynmods on ({Reason}); every sandbox's cgroup join after idle waits for an RCU grace period (5-15 ms on a VM)")]
        public static partial void DynmodsUnavailable(ILogger logger, string name, string reason);
    }
}
