using Microsoft.Extensions.Logging;

namespace Thaw.Sandboxes.Zygotes;

public sealed partial class Zygote
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "zygote {Pid} started (native spawn loaded: {Native})")]
        public static partial void Started(ILogger logger, int pid, bool native);

        [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "zygote {Pid}: {Line}")]
        public static partial void Stderr(ILogger logger, int pid, string line);

        [LoggerMessage(EventId = 302, Level = LogLevel.Error, Message = "zygote {Pid} died; its sandboxes are reported lost and their resources returned")]
        public static partial void Crashed(ILogger logger, int pid, Exception? error);

        [LoggerMessage(EventId = 303, Level = LogLevel.Information, Message = "zygote {Pid} forked from {Parent}: {Modules} modules imported in {ImportMs} ms")]
        public static partial void Forked(ILogger logger, int pid, int parent, int modules, double importMs);

        [LoggerMessage(EventId = 304, Level = LogLevel.Error, Message = "zygote {Pid}: a handler of its death failed")]
        public static partial void CrashHandlerFailed(ILogger logger, int pid, Exception error);

        [LoggerMessage(EventId = 305, Level = LogLevel.Error, Message = "zygote {Pid}: returning its resources after its death failed")]
        public static partial void ReleaseFailed(ILogger logger, int pid, Exception error);

        [LoggerMessage(EventId = 306, Level = LogLevel.Debug, Message = "zygote {Pid}: sandbox {Sandbox} wrote {Pages} pages of its own; parked children now pre-fault {Profile}")]
        public static partial void TouchProfile(ILogger logger, int pid, int sandbox, long pages, long profile);
    }
}
