namespace Thaw.Tests.Support;

/// <summary>
/// Tests that count the process's open fds or change host-wide settings (IPv4 forwarding) run
/// alone: a test class running beside them would open sockets and namespace fds of its own, or
/// flip the same setting, and make their assertions meaningless.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAlone
{
    public const string Name = "runs alone (fd census, host-wide settings)";
}
