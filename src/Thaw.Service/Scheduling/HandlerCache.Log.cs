using Microsoft.Extensions.Logging;

namespace Thaw.Service.Scheduling;

public sealed partial class HandlerCache
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "evicted sandbox {Sandbox} of {Function} (Greedy-Dual priority {Priority:0.###}) for the memory budget")]
        public static partial void Evicted(ILogger logger, string sandbox, string function, double priority);

        [LoggerMessage(EventId = 701, Level = LogLevel.Warning, Message = "pausing idle sandbox {Sandbox} failed; it stays running")]
        public static partial void FreezeFailed(ILogger logger, string sandbox, Exception error);

        [LoggerMessage(EventId = 702, Level = LogLevel.Warning, Message = "resuming paused sandbox {Sandbox} failed; it is replaced by a cold start")]
        public static partial void ThawFailed(ILogger logger, string sandbox, Exception error);

        [LoggerMessage(EventId = 703, Level = LogLevel.Error, Message = "stopping sandbox {Sandbox} failed")]
        public static partial void StopFailed(ILogger logger, string sandbox, Exception error);

        [LoggerMessage(EventId = 704, Level = LogLevel.Warning, Message = "function {Function}: busy sandboxes did not finish within {Seconds} s of its removal; they stop when their calls end")]
        public static partial void DrainTimedOut(ILogger logger, string function, double seconds);

        [LoggerMessage(EventId = 705, Level = LogLevel.Warning, Message = "function {Function}: starting a replacement sandbox failed")]
        public static partial void ReplaceFailed(ILogger logger, string function, Exception error);

        [LoggerMessage(EventId = 706, Level = LogLevel.Error, Message = "sweeping idle sandboxes failed; the next sweep tries again")]
        public static partial void SweepFailed(ILogger logger, Exception error);
    }
}
