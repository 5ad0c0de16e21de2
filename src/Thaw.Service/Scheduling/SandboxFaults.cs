using Thaw.Runtimes.Python;

namespace Thaw.Service.Scheduling;

/// <summary>The API's error code (and the calls metric's outcome) of each way a sandbox fails a call (docs/api.md).</summary>
public static class SandboxFaults
{
    public static string Code(this SandboxFault fault) => fault switch
    {
        SandboxFault.OutOfMemory => "out_of_memory",
        SandboxFault.BrokenProtocol => "protocol_error",
        _ => "sandbox_died",
    };
}
