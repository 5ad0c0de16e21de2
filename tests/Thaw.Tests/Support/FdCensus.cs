namespace Thaw.Tests.Support;

/// <summary>
/// Tests that count the process's open fds run alone: any test class running beside them opens
/// sockets and namespace fds of its own and would make the count meaningless.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FdCensus
{
    public const string Name = "fd census (runs alone)";
}
